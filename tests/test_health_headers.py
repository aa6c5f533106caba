"""Health answers carry the API's security headers, and probes with an IP Host still get 200.

Health sits before the trusted-host check (kubelet sends the pod IP as Host), but inside
the security-headers layer, so ``/health`` with details (JSON like any API answer),
``/readyz`` and ``/livez`` carry the same headers as the API.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hardening import HardeningSettings, harden
from tests.extras import import_extra

import_extra("secure", "hardening[headers]")

pytestmark = [pytest.mark.anyio, pytest.mark.needs_extras]

SECURITY_HEADERS = ("x-content-type-options", "content-security-policy", "referrer-policy", "x-frame-options")


async def api(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def hardened() -> Any:
    settings = HardeningSettings(
        environment="production",
        hosts={"allowed_hosts": ["api.example.com"]},
        health={"details": "always"},
        rate_limit={"enabled": False},
    )
    return harden(Starlette(routes=[Route("/api", api)]), settings)


async def get(app: Any, path: str, host: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"https://{host}") as http:
        return await http.get(path)


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/health"])
async def test_health_answers_carry_the_api_security_headers_even_with_an_ip_host(path: str) -> None:
    app = hardened()
    reference = await get(app, "/api", "api.example.com")
    assert reference.status_code == 200
    probe = await get(app, path, "10.1.2.3")  # the pod IP, as kubelet sends it
    assert probe.status_code == 200
    for name in SECURITY_HEADERS:
        assert name in reference.headers
        assert probe.headers.get(name) == reference.headers[name], name
    assert probe.headers.get("strict-transport-security") == reference.headers.get("strict-transport-security")


async def test_a_foreign_host_is_still_refused_outside_health() -> None:
    response = await get(hardened(), "/api", "10.1.2.3")
    assert response.status_code == 400
    assert "x-content-type-options" in response.headers
