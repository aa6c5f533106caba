"""CSRF from Fetch Metadata: Sec-Fetch-Site, then Origin against Host, trusted origins."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hardening import HardeningSettings, LayerContext, build_layer
from hardening.checks import run_checks
from hardening.clientip import ProxyConfig
from hardening.cors import CORSConfig, CORSRule
from hardening.csrf import CSRFConfig, CSRFMiddleware
from tests.asgi_call import call, http_scope

pytestmark = pytest.mark.anyio


async def app(scope: Any, receive: Any, send: Any) -> None:
    scope["state"]["app_ran"] = True
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def status(mw: Any, method: str, path: str = "/", **headers: str) -> int:
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    scope = http_scope(method, path, headers=raw)
    result = await call(mw, scope)
    assert ("app_ran" in scope["state"]) == (result.status == 200)
    return result.status


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "TRACE"])
async def test_safe_methods_always_pass(method: str) -> None:
    mw = CSRFMiddleware(app)
    assert await status(mw, method, sec_fetch_site="cross-site", origin="https://evil.com") == 200


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"sec_fetch_site": "same-origin"}, 200),
        ({"sec_fetch_site": "none"}, 200),
        ({"sec_fetch_site": "cross-site", "origin": "https://evil.com"}, 403),
        ({"sec_fetch_site": "same-site", "origin": "https://other.testserver"}, 403),
        ({"sec_fetch_site": "weird"}, 403),
        ({}, 200),  # neither header: not a browser
        ({"origin": "http://testserver"}, 200),  # old browser, same origin
        ({"origin": "http://testserver:80"}, 403),  # not a serialized origin
        ({"origin": "https://testserver"}, 403),  # scheme differs
        ({"origin": "http://testserver:8080"}, 403),
        ({"origin": "https://evil.com"}, 403),
        ({"origin": "null"}, 403),
        # Sec-Fetch-Site wins over a matching Origin.
        ({"sec_fetch_site": "cross-site", "origin": "http://testserver"}, 403),
    ],
)
async def test_post_decisions(headers: dict[str, str], expected: int) -> None:
    assert await status(CSRFMiddleware(app), "POST", **headers) == expected


@pytest.mark.parametrize("host", [b"test\xffserver", b"testserver/x", b""])
async def test_origin_fallback_refuses_a_bad_host(host: bytes) -> None:
    scope = http_scope("POST", headers=[(b"origin", b"http://testserver")])
    scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"host"] + [(b"host", host)]
    assert (await call(CSRFMiddleware(app), scope)).status == 403


async def test_refusal_is_a_403_problem() -> None:
    scope = http_scope("DELETE", headers=[(b"sec-fetch-site", b"cross-site"), (b"origin", b"https://evil.com")])
    result = await call(CSRFMiddleware(app), scope)
    assert result.status == 403
    assert result.headers["content-type"] == "application/problem+json"
    assert result.json()["type"] == "urn:hardening:problem:cross-origin-request-rejected"
    assert b"evil" not in result.body


async def test_trusted_origins_and_exempt_paths() -> None:
    mw = CSRFMiddleware(
        app, CSRFConfig(trusted_origins=["https://admin.example.com", "https://*.partner.org"], exempt_paths=["/saml"])
    )
    cross = {"sec_fetch_site": "cross-site"}
    assert await status(mw, "POST", origin="https://admin.example.com", **cross) == 200
    assert await status(mw, "POST", origin="https://a.partner.org", **cross) == 200
    assert await status(mw, "POST", origin="https://partner.org", **cross) == 403
    assert await status(mw, "POST", "/saml/acs", origin="https://idp.example", **cross) == 200
    assert await status(mw, "POST", "/samlx", origin="https://idp.example", **cross) == 403
    assert await status(mw, "POST", origin="https://admin.example.com") == 200  # old browser, trusted


async def test_cors_origins_are_trusted_but_not_the_wildcard() -> None:
    settings = HardeningSettings(
        environment="test",
        cors=CORSConfig(
            allow_origins=["https://app.example.com", "null"],
            allow_origin_regex=[r"https://pr-[0-9]+\.example\.com"],
            rules=[CORSRule(path="/open", allow_origins=["*"])],
        ),
    )
    mw = build_layer(app, CSRFConfig(), LayerContext.of(settings))
    cross = {"sec_fetch_site": "cross-site"}
    assert await status(mw, "POST", origin="https://app.example.com", **cross) == 200
    assert await status(mw, "POST", origin="https://pr-7.example.com", **cross) == 200
    assert await status(mw, "POST", "/open", origin="https://anyone.example", **cross) == 403
    assert await status(mw, "POST", origin="null", **cross) == 403
    untrusting = build_layer(app, CSRFConfig(trust_cors_origins=False), LayerContext.of(settings))
    assert await status(untrusting, "POST", origin="https://app.example.com", **cross) == 403


async def test_scheme_comes_from_trusted_proxies() -> None:
    settings = HardeningSettings(environment="test", proxy=ProxyConfig(trusted_proxies=["127.0.0.0/8"]))
    mw = build_layer(app, CSRFConfig(), LayerContext.of(settings))
    assert await status(mw, "POST", origin="https://testserver", x_forwarded_proto="https") == 200
    assert await status(mw, "POST", origin="http://testserver", x_forwarded_proto="https") == 403
    alone = build_layer(app, CSRFConfig())
    assert await status(alone, "POST", origin="https://testserver", x_forwarded_proto="https") == 403


async def test_non_http_scopes_and_disabled() -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await CSRFMiddleware(inner)({"type": "websocket", "headers": []}, None, None)  # type: ignore[arg-type]
    assert seen == ["websocket"]
    assert build_layer(app, CSRFConfig(enabled=False)) is app
    assert CSRFConfig().enabled


def test_config_validation() -> None:
    for bad in ("*", "null", "https://a.com/", "a.com"):
        with pytest.raises(ValidationError, match=r"(?s)^(?!.*HARDENING_).*\btrusted_origins\b"):
            CSRFConfig(trusted_origins=[bad])
    with pytest.raises(ValidationError, match=r"(?s)^(?!.*HARDENING_).*\bexempt_paths\b"):
        CSRFConfig(exempt_paths=["saml"])


def test_production_rule() -> None:
    def found(**kwargs: Any) -> set[str]:
        return {f.id for f in run_checks(HardeningSettings(**kwargs)) if f.id.startswith("HARDENING-CSRF")}

    assert found(environment="production", csrf=CSRFConfig(enabled=False)) == {"HARDENING-CSRF-001"}
    assert found(environment="production") == set()
    assert found(environment="test", csrf=CSRFConfig(enabled=False)) == set()
