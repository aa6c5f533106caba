"""The order of ``harden()``, tested by behaviour for the host, CORS and CSRF layers.

CORS sits outside the body limit, rate limiting and the app, so their 413, 429 and 500
answers still carry the CORS headers an allowed origin needs to read them; trusted hosts
sit outside CORS, so a forged Host never reaches CORS, CSRF or the app.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hardening import HardeningSettings, harden
from hardening.bodylimit import BodyLimitConfig
from hardening.cors import CORSConfig
from tests.extras import import_extra

import_extra("secure", "hardening[headers]")
import_extra("limits", "hardening[ratelimit]")

pytestmark = [pytest.mark.anyio, pytest.mark.needs_extras]

APP = "https://app.example.com"
ran: list[str] = []


async def inner(scope: Any, receive: Any, send: Any) -> None:
    """Answer with the status named by the path (``/status/429``), or raise on ``/boom``."""
    if scope["type"] != "http":
        return
    ran.append(scope["path"])
    if scope["path"] == "/boom":
        raise RuntimeError("canary-exception-text")
    while (await receive()).get("more_body"):
        pass
    status = int(scope["path"].rsplit("/", 1)[-1]) if scope["path"].startswith("/status/") else 200
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


def settings(**overrides: Any) -> HardeningSettings:
    return HardeningSettings(
        environment="test",
        cors=CORSConfig(allow_origins=[APP], allow_credentials=True),
        body_limit=BodyLimitConfig(max_bytes=64),
        **overrides,
    )


def client(hardened: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=hardened), base_url="http://testserver")


@pytest.fixture(autouse=True)
def _reset() -> None:
    ran.clear()


@pytest.mark.parametrize("status", [401, 404, 429, 500, 503])
async def test_statuses_from_inside_carry_cors_headers(status: int) -> None:
    async with client(harden(inner, settings())) as c:
        response = await c.get(f"/status/{status}", headers={"origin": APP})
    assert response.status_code == status
    assert response.headers.get_list("access-control-allow-origin") == [APP]
    assert response.headers["access-control-allow-credentials"] == "true"


async def test_body_limit_413_carries_cors_headers() -> None:
    async with client(harden(inner, settings())) as c:
        response = await c.post("/upload", content=b"x" * 1000, headers={"origin": APP})
    assert response.status_code == 413
    assert response.headers.get_list("access-control-allow-origin") == [APP]
    assert "Origin" in response.headers["vary"]


async def test_unhandled_exception_500_carries_cors_headers() -> None:
    async with client(harden(inner, settings())) as c:
        response = await c.get("/boom", headers={"origin": APP})
    assert response.status_code == 500
    assert "canary-exception-text" not in response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers.get_list("access-control-allow-origin") == [APP]
    assert "Origin" in response.headers["vary"]


@pytest.mark.parametrize("raise_from", ["bare", "starlette"])
async def test_unhandled_exception_500_carries_request_id_and_security_headers(raise_from: str) -> None:
    """The guard's 500 carries the request ID and the security headers, like any response."""

    async def boom(request: Request) -> Response:
        raise RuntimeError("canary-exception-text")

    app: Any = inner if raise_from == "bare" else Starlette(routes=[Route("/boom", boom)])
    async with client(harden(app, settings())) as c:
        response = await c.get("/boom", headers={"origin": APP})

    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-request-id"] == response.json()["request_id"]
    assert "canary-exception-text" not in response.text
    for name in {key for key, _ in response.headers.multi_items()}:
        assert len(response.headers.get_list(name)) == 1, name


async def test_starlette_exception_500_carries_cors_headers() -> None:
    async def boom(request: Request) -> Response:
        raise RuntimeError("canary-exception-text")

    starlette_app = Starlette(routes=[Route("/boom", boom)])
    async with client(harden(starlette_app, settings())) as c:
        response = await c.get("/boom", headers={"origin": APP})
        denied = await c.get("/boom", headers={"origin": "https://evil.example"})
    assert response.status_code == 500
    assert "canary-exception-text" not in response.text
    assert response.headers.get_list("access-control-allow-origin") == [APP]
    assert denied.status_code == 500
    assert "access-control-allow-origin" not in denied.headers


async def test_preflight_is_answered_before_limits_and_the_app() -> None:
    async with client(harden(inner, settings())) as c:
        response = await c.options("/status/500", headers={"origin": APP, "access-control-request-method": "POST"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP
    assert ran == []


async def test_forged_host_never_reaches_cors_csrf_or_the_app() -> None:
    async with client(harden(inner, settings())) as c:
        response = await c.post("/x", headers={"origin": APP, "host": "evil.example"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "access-control-allow-origin" not in response.headers
    assert ran == []


async def test_csrf_refuses_foreign_sites_but_trusts_cors_origins() -> None:
    async with client(harden(inner, settings())) as c:
        foreign = await c.post("/x", headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"})
        friend = await c.post("/x", headers={"origin": APP, "sec-fetch-site": "cross-site"})
    assert foreign.status_code == 403
    assert foreign.json()["type"] == "urn:hardening:problem:cross-origin-request-rejected"
    assert "access-control-allow-origin" not in foreign.headers
    assert friend.status_code == 200
    assert friend.headers["access-control-allow-origin"] == APP
    assert ran == ["/x"]


async def test_production_defaults_refuse_unknown_hosts_but_answer_probes() -> None:
    hardened = harden(inner, HardeningSettings(environment="production"))
    async with client(hardened) as c:
        page = await c.get("/")
        probe = await c.get("/livez", headers={"host": "10.1.2.3:8080"})
    assert page.status_code == 400
    assert probe.status_code == 200
