"""Litestar and Django apps wrapped with ``harden()``, end to end under a REAL uvicorn.

Each example (``examples/litestar_app.py``, ``examples/django_app/asgi.py``) is served in
a thread on a free loopback port; the test checks what a client sees: the security
headers, CORS for an allowed origin (and none for another), a rate limit with its
headers and a problem+json 429, the health endpoints (an IP Host included), the host
check, and problem+json for the framework's own errors.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from hardening import HardeningSettings
from hardening.problems import PROBLEM_CONTENT_TYPE
from tests.extras import import_extra
from tests.uvicorn_server import ThreadServer

pytestmark = [pytest.mark.e2e, pytest.mark.needs_extras]

ORIGIN = "https://app.example.com"
CANARY = "canary-value-31337"
_clients = itertools.count(20)


def settings(limited_path: str, methods: tuple[str, ...] = ()) -> HardeningSettings:
    """Development settings: trusted loopback proxy (one address per test), CORS for ORIGIN, 2/minute on a path."""
    return HardeningSettings(
        environment="development",
        hosts={"allowed_hosts": ["127.0.0.1", "localhost"]},
        proxy={"trusted_proxies": ["127.0.0.1"]},
        cors={"allow_origins": [ORIGIN]},
        rate_limit={"rules": [{"path": limited_path, "methods": list(methods), "limits": "2/minute", "name": "tight"}]},
    )


def build_litestar() -> ASGIApp:
    import_extra("litestar", "the test dependency group")
    from examples.litestar_app import build

    return build(settings("/reports/expensive"))


def build_django() -> ASGIApp:
    import_extra("django", "the test dependency group")
    from examples.django_app.asgi import build

    return build(settings("/items", ("POST",)))


FRAMEWORKS: dict[str, tuple[Callable[[], ASGIApp], str, Callable[[httpx.Client], httpx.Response]]] = {
    "litestar": (build_litestar, "/items/1", lambda client: client.get("/reports/expensive")),
    "django": (build_django, "/items/1", lambda client: client.post("/items", json={"name": "bolt", "quantity": 3})),
}


@pytest.fixture(scope="module", params=sorted(FRAMEWORKS))
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    builder = FRAMEWORKS[request.param][0]
    with ThreadServer(builder()) as server:
        yield request.param, server.url


@pytest.fixture
def client(served: tuple[str, str]) -> Iterator[httpx.Client]:
    """A client with its own address (X-Forwarded-For from the trusted loopback), so its own buckets."""
    headers = {"X-Forwarded-For": f"198.51.100.{next(_clients)}"}
    with httpx.Client(base_url=served[1], headers=headers, timeout=10) as http:
        yield http


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def test_responses_carry_the_security_headers(served: tuple[str, str], client: httpx.Client) -> None:
    response = client.get(FRAMEWORKS[served[0]][1])
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "bolt"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["x-frame-options"] == "DENY"
    assert len(response.headers["x-request-id"]) == 32
    assert "server" not in response.headers
    assert "ratelimit-policy" in response.headers


def test_cors_for_the_allowed_origin_only(served: tuple[str, str], client: httpx.Client) -> None:
    path = FRAMEWORKS[served[0]][1]
    preflight = client.options(path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    assert preflight.status_code in (200, 204), preflight.text
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    simple = client.get(path, headers={"Origin": ORIGIN})
    assert simple.headers["access-control-allow-origin"] == ORIGIN
    other = client.get(path, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_rate_limit_answers_429_with_its_headers(served: tuple[str, str], client: httpx.Client) -> None:
    call = FRAMEWORKS[served[0]][2]
    statuses = [call(client).status_code for _ in range(3)]
    assert 429 not in statuses[:2], statuses
    assert statuses[2] == 429, statuses
    rejected = call(client)
    body = assert_problem(rejected, 429)
    assert body["type"] == "urn:hardening:problem:rate-limited"
    assert body["violated-policies"] == ["tight"]
    assert int(rejected.headers["retry-after"]) >= 1
    assert '"tight";q=2;w=60' in rejected.headers["ratelimit-policy"]
    assert "ratelimit" in rejected.headers
    assert rejected.headers["x-content-type-options"] == "nosniff"


def test_health_answers_even_for_an_ip_host(client: httpx.Client) -> None:
    for path in ("/livez", "/readyz", "/health"):
        response = client.get(path, headers={"Host": "10.0.0.7:8000"})
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"] == "application/health+json"


def test_host_check_refuses_a_foreign_host(served: tuple[str, str], client: httpx.Client) -> None:
    body = assert_problem(client.get(FRAMEWORKS[served[0]][1], headers={"Host": "evil.example"}), 400)
    assert body["type"] == "urn:hardening:problem:invalid-host"


def test_framework_errors_are_problems(served: tuple[str, str], client: httpx.Client) -> None:
    assert_problem(client.get("/no/such/route"), 404)
    assert_problem(client.get("/items/999"), 404)
    assert_problem(client.delete("/items/1"), 405)
    invalid = client.post("/items", json={"name": "", "quantity": CANARY})
    assert invalid.status_code in (400, 422), invalid.text  # Litestar calls a validation error 400
    assert invalid.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert CANARY not in invalid.text
    malformed = client.post("/items", content=b'{"name": ', headers={"content-type": "application/json"})
    assert_problem(malformed, 400)
    too_big = client.post("/items", content=b"x" * 2_000_000, headers={"content-type": "application/json"})
    assert_problem(too_big, 413)
    if served[0] == "django":
        boom = assert_problem(client.get("/boom"), 500)
        assert "secret-canary-5150" not in str(boom)
