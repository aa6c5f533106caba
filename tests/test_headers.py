"""Security-headers layer: classification, precedence, HSTS, nonces, removal, 304s."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from hardening import HardeningSettings, LayerContext, build_layer, harden
from hardening.clientip import ProxyConfig
from hardening.errors import ConfigurationError
from hardening.headers import SecurityHeadersConfig, SecurityHeadersMiddleware
from hardening.headers.csp import csp_nonce
from hardening.testing import assert_hardened, grade_headers
from tests.asgi_call import answering, answering_shaped, call, http_scope
from tests.extras import import_extra

import_extra("secure", "hardening[headers]")

pytestmark = [pytest.mark.anyio, pytest.mark.needs_extras]

NONCE_RE = re.compile(r"'nonce-([A-Za-z0-9_-]+)'")


async def json_view(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def page(request: Request) -> Response:
    nonce = csp_nonce(request)
    return HTMLResponse(f'<html><body><script nonce="{nonce}">1</script></body></html>', headers={"etag": '"x"'})


async def leaky(request: Request) -> Response:
    return JSONResponse(
        {}, headers={"server": "gunicorn/1", "x-powered-by": "PHP/5", "x-aspnet-version": "4", "x-custom": "kept"}
    )


async def own_headers(request: Request) -> Response:
    response = JSONResponse({})
    response.headers["x-frame-options"] = "SAMEORIGIN"
    response.headers["content-security-policy"] = "default-src 'self'"
    response.headers.append("referrer-policy", "origin")
    response.headers.append("referrer-policy", "same-origin")
    return response


async def not_modified(request: Request) -> Response:
    return Response(status_code=304, headers={"etag": '"v1"'})


async def docs(request: Request) -> Response:
    return HTMLResponse("<html>docs</html>")


async def boom(request: Request) -> Response:
    raise RuntimeError("boom")


def make_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/json", json_view),
            Route("/page", page),
            Route("/leaky", leaky),
            Route("/own", own_headers),
            Route("/304", not_modified),
            Route("/docs", docs),
            Route("/docs/oauth2-redirect", docs),
            Route("/docsearch", docs),
            Route("/text", lambda r: PlainTextResponse("hi")),
            Route("/boom", boom),
        ]
    )


def client(app: Any, base_url: str = "https://api.example.com", **kwargs: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, **kwargs)
    return httpx.AsyncClient(transport=transport, base_url=base_url)


def wrap(**overrides: Any) -> SecurityHeadersMiddleware:
    return SecurityHeadersMiddleware(make_app(), SecurityHeadersConfig(**overrides))


def no_duplicates(response: httpx.Response) -> None:
    names = [name.lower() for name, _ in response.headers.multi_items()]
    assert len(names) == len(set(names)), names


# --- request classification ---------------------------------------------------------


async def test_json_response_gets_api_profile_and_scores_a_plus() -> None:
    async with client(wrap()) as c:
        response = await c.get("/json")
    h = response.headers
    assert (
        h["content-security-policy"]
        == "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "no-referrer"
    assert h["cross-origin-resource-policy"] == "same-origin"
    assert h["cross-origin-opener-policy"] == "same-origin"
    assert h["cross-origin-embedder-policy"] == "require-corp"
    assert h["cache-control"] == "no-store"
    assert h["strict-transport-security"] == "max-age=63072000; includeSubDomains"
    no_duplicates(response)
    grade = grade_headers(response)
    assert grade.score >= 100, grade.penalties()
    assert grade.grade == "A+"
    assert_hardened(response, "api")


async def test_html_response_gets_webapp_profile_with_the_request_nonce() -> None:
    async with client(wrap()) as c:
        response = await c.get("/page")
    csp = response.headers["content-security-policy"]
    nonces = NONCE_RE.findall(csp)
    assert len(nonces) == 2  # script-src and style-src
    assert len(set(nonces)) == 1
    assert f'nonce="{nonces[0]}"' in response.text
    assert "'strict-dynamic'" in csp
    assert "upgrade-insecure-requests" in csp
    assert response.headers["permissions-policy"].startswith("accelerometer=()")
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert "cross-origin-embedder-policy" not in response.headers
    assert_hardened(response, "webapp")


async def test_non_json_non_html_falls_back_to_api_profile() -> None:
    async with client(wrap()) as c:
        response = await c.get("/text")
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/docs", "docs"), ("/docs/oauth2-redirect", "docs"), ("/docsearch", "webapp"), ("/page", "webapp")],
)
async def test_docs_paths_get_docs_profile_matched_by_segment(path: str, expected: str) -> None:
    async with client(wrap()) as c:
        response = await c.get(path)
    csp = response.headers["content-security-policy"]
    assert ("frame-ancestors 'none'" in csp) is (expected == "docs")  # HTML pages get 'self'; docs no framing
    if expected == "docs":
        assert_hardened(response, "docs")


async def test_profile_rules_use_scope_path_not_a_malformed_host() -> None:
    """CVE-2026-48710 class: a hostile Host header must not change the chosen profile."""
    async with client(wrap()) as c:
        response = await c.get("/json", headers={"host": "evil.com/docs?"})
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


async def test_root_path_is_stripped_before_matching() -> None:
    app = wrap()
    async with client(app, root_path="/api") as c:
        response = await c.get("/api/docs")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]  # the docs profile, not webapp


async def test_lifespan_and_websocket_scopes_pass_through_untouched() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    middleware = SecurityHeadersMiddleware(app)
    for kind in ("lifespan", "websocket"):
        scope: dict[str, Any] = {"type": kind}
        await middleware(scope, None, None)  # type: ignore[arg-type]
        assert scope == {"type": kind}
    assert len(seen) == 2


# --- header precedence ---------------------------------------------------------------


async def test_app_set_headers_win_and_are_never_duplicated() -> None:
    async with client(wrap()) as c:
        response = await c.get("/own")
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["content-security-policy"] == "default-src 'self'"
    assert response.headers.get_list("referrer-policy") == ["origin"]
    no_duplicates(response)


async def test_override_replaces_the_app_value() -> None:
    async with client(wrap(override=("x-frame-options", "content-security-policy"))) as c:
        response = await c.get("/own")
    assert response.headers.get_list("x-frame-options") == ["DENY"]
    assert response.headers.get_list("content-security-policy")[0].startswith("default-src 'none'")
    no_duplicates(response)


async def test_leaky_headers_are_removed_even_when_the_app_sets_them() -> None:
    async with client(wrap()) as c:
        response = await c.get("/leaky")
    for name in ("server", "x-powered-by", "x-aspnet-version"):
        assert name not in response.headers
    assert response.headers["x-custom"] == "kept"


async def test_not_modified_gets_only_hsts() -> None:
    async with client(wrap()) as c:
        response = await c.get("/304")
    assert response.status_code == 304
    assert "content-security-policy" not in response.headers
    assert "x-frame-options" not in response.headers
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_server_error_response_carries_headers() -> None:
    async with client(wrap()) as c:
        response = await c.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_streaming_and_head_responses_carry_headers() -> None:
    async with client(wrap()) as c:
        head = await c.head("/json")
    assert head.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("first", "second", "html"),
    [
        (b"text/html", b"application/json", True),
        (b"application/json", b"text/html", False),
        (b"Text/HTML; charset=utf-8", b"text/plain", True),
    ],
)
@pytest.mark.parametrize("names", [(b"content-type", b"content-type"), (b"Content-Type", b"CONTENT-TYPE")])
async def test_the_first_content_type_decides_the_profile(
    first: bytes, second: bytes, html: bool, names: tuple[bytes, bytes]
) -> None:
    app = answering([(names[0], first), (names[1], second)])
    result = await call(SecurityHeadersMiddleware(app), http_scope())
    assert ("'nonce-" in result.headers["content-security-policy"]) is html


@pytest.mark.parametrize("shape", ["missing", "none", "tuple", "generator"])
async def test_any_shape_of_app_headers_gets_the_same_headers(shape: str) -> None:
    pairs = [(b"content-type", b"text/plain"), (b"Server", b"x")]
    app = answering_shaped(pairs, shape)

    scope = http_scope(headers=[(b"host", b"api.example.com")])
    scope["scheme"] = "https"
    result = await call(SecurityHeadersMiddleware(app), scope)
    sent = result.starts[0]["headers"]
    assert all(name.lower() != b"server" for name, _ in sent)
    assert (b"strict-transport-security", b"max-age=63072000; includeSubDomains") in sent
    assert result.headers["content-security-policy"].startswith("default-src 'none'")
    assert [name for name, _ in sent].count(b"content-type") == (0 if shape in ("missing", "none") else 1)


async def test_the_app_reusing_one_header_list_gets_the_same_headers_every_time() -> None:
    shared = [(b"content-type", b"text/html; charset=utf-8"), (b"x-custom", b"1")]
    snapshot = list(shared)
    middleware = SecurityHeadersMiddleware(answering(shared, b"<p>x</p>"))
    results = [await call(middleware, http_scope()) for _ in range(3)]
    assert shared == snapshot  # the app's list is never edited in place
    for result in results:
        names = [name for name, _ in result.starts[0]["headers"]]
        assert len(names) == len(set(names))
        assert result.headers["content-security-policy"].count("'nonce-") == 2
    assert len({result.headers["content-security-policy"] for result in results}) == 3


# --- HSTS ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://api.example.com", True),
        ("http://api.example.com", False),
        ("https://localhost:8443", False),
        ("https://127.0.0.1", False),
        ("https://[::1]:8443", False),
        ("https://app.localhost", False),
    ],
)
async def test_hsts_only_on_https_and_never_for_localhost(base_url: str, expected: bool) -> None:
    async with client(wrap(), base_url=base_url) as c:
        response = await c.get("/page")
    assert ("strict-transport-security" in response.headers) is expected
    assert ("upgrade-insecure-requests" in response.headers["content-security-policy"]) is expected


async def test_hsts_follows_forwarded_proto_only_from_trusted_proxies() -> None:
    trusted = HardeningSettings(proxy=ProxyConfig(trusted_proxies=("10.0.0.0/8",)))
    app = SecurityHeadersMiddleware(make_app(), SecurityHeadersConfig(), context=LayerContext.of(trusted))
    headers = {"x-forwarded-proto": "https"}
    async with client(app, base_url="http://api.example.com", client=("10.1.2.3", 5000)) as c:
        assert "strict-transport-security" in (await c.get("/json", headers=headers)).headers
    async with client(app, base_url="http://api.example.com", client=("203.0.113.9", 5000)) as c:
        assert "strict-transport-security" not in (await c.get("/json", headers=headers)).headers


async def test_hsts_preload_and_disable() -> None:
    async with client(wrap(hsts={"preload": True, "max_age": 31536000})) as c:
        response = await c.get("/json")
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
    async with client(wrap(hsts={"enabled": False})) as c:
        assert "strict-transport-security" not in (await c.get("/json")).headers


async def test_hsts_is_decided_per_request_by_host_or_else_the_server_address() -> None:
    middleware = SecurityHeadersMiddleware(answering([]))
    cases = [
        ([(b"host", b"api.example.com")], ("10.0.0.1", 443), True),
        ([(b"host", b"localhost:8443")], ("10.0.0.1", 443), False),
        ([(b"host", b"api.example.com")], ("127.0.0.1", 443), True),
        ([], ("127.0.0.1", 443), False),  # no Host: the server address counts, every time
        ([], ("203.0.113.9", 443), True),
        ([(b"host", b"localhost:8443")], ("203.0.113.9", 443), False),
        ([(b"host", b"1password.example")], ("127.0.0.1", 443), True),
    ]
    for headers, server, hsts in cases * 2:
        scope = http_scope()
        scope.update(scheme="https", headers=headers, server=server)
        result = await call(middleware, scope)
        assert ("strict-transport-security" in result.headers) is hsts, (headers, server)


# --- nonces ----------------------------------------------------------------------------


async def test_nonce_is_fresh_per_request_and_matches_its_own_body() -> None:
    app = wrap()
    async with client(app) as c:
        responses = await asyncio.gather(*(c.get("/page") for _ in range(40)))
    nonces = []
    for response in responses:
        nonce = NONCE_RE.findall(response.headers["content-security-policy"])[0]
        assert f'nonce="{nonce}"' in response.text
        assert len(nonce) >= 22  # >= 128 bits of URL-safe base64
        nonces.append(nonce)
    assert len(set(nonces)) == len(nonces)


async def test_nonce_bearing_responses_are_not_stored_by_shared_caches() -> None:
    async with client(wrap()) as c:
        response = await c.get("/page")
    assert response.headers["cache-control"] == "no-store"
    assert "etag" not in response.headers


async def test_app_private_cache_control_is_kept_on_nonce_responses() -> None:
    async def view(request: Request) -> Response:
        return HTMLResponse("<p>x</p>", headers={"cache-control": "private, max-age=60"})

    app = SecurityHeadersMiddleware(Starlette(routes=[Route("/", view)]))
    async with client(app) as c:
        response = await c.get("/")
    assert response.headers["cache-control"] == "private, max-age=60"


async def test_public_cache_control_is_replaced_on_nonce_responses() -> None:
    async def view(request: Request) -> Response:
        return HTMLResponse("<p>x</p>", headers={"cache-control": "public, max-age=600"})

    app = SecurityHeadersMiddleware(Starlette(routes=[Route("/", view)]))
    async with client(app) as c:
        response = await c.get("/")
    assert response.headers.get_list("cache-control") == ["no-store"]


async def test_no_nonce_when_no_policy_uses_it() -> None:
    seen: list[Any] = []

    async def view(request: Request) -> Response:
        seen.append(request.scope.get("state", {}).get("csp_nonce"))
        return HTMLResponse("<p>x</p>")

    config = SecurityHeadersConfig(webapp={"csp": "default-src 'self'"}, docs={"csp": "default-src 'self'"})
    app = SecurityHeadersMiddleware(Starlette(routes=[Route("/", view)]), config)
    async with client(app) as c:
        response = await c.get("/")
    assert seen == [None]
    assert response.headers["content-security-policy"] == "default-src 'self'"
    assert "cache-control" not in response.headers


# --- composition -----------------------------------------------------------------------


async def test_harden_with_defaults_scores_a_plus_on_json() -> None:
    async def view(request: Request) -> Response:
        return JSONResponse({"ok": True})

    app = harden(Starlette(routes=[Route("/", view)]), HardeningSettings())
    async with client(app) as c:
        response = await c.get("/")
    assert grade_headers(response).grade == "A+"


def test_disabled_layer_returns_the_app() -> None:
    app = make_app()
    assert build_layer(app, SecurityHeadersConfig(enabled=False)) is app
    assert isinstance(build_layer(app, SecurityHeadersConfig()), SecurityHeadersMiddleware)


def test_keyword_construction_reports_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match=r"(?s)^(?!.*HARDENING_).*csp: keyword"):
        SecurityHeadersMiddleware(make_app(), api={"csp": "default-src self"})
    with pytest.raises(ConfigurationError, match="not both"):
        SecurityHeadersMiddleware(make_app(), SecurityHeadersConfig(), remove=())
