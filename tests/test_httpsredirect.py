"""HTTPS redirect: status per method, path and query kept, ports, proxies, exemptions."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hardening import HardeningSettings, LayerContext, build_layer
from hardening.checks import run_checks
from hardening.clientip import ProxyConfig
from hardening.httpsredirect import HTTPSRedirectConfig, HTTPSRedirectMiddleware
from tests.asgi_call import Result, call, http_scope

pytestmark = pytest.mark.anyio


async def app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def run(
    mw: Any, method: str = "GET", path: str = "/", *, host: bytes = b"api.example.com", query: bytes = b"", **kw: Any
) -> Result:
    scope = http_scope(method, path, query_string=query, headers=kw.pop("headers", []))
    scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"host"] + [(b"host", host)]
    scope.update(kw)
    return await call(mw, scope)


def test_off_by_default() -> None:
    assert HTTPSRedirectConfig().enabled is False
    assert build_layer(app, HTTPSRedirectConfig()) is app


@pytest.mark.parametrize(
    ("method", "code"), [("GET", 301), ("HEAD", 301), ("POST", 308), ("PUT", 308), ("DELETE", 308)]
)
async def test_redirect_status_keeps_the_method(method: str, code: int) -> None:
    result = await run(HTTPSRedirectMiddleware(app), method, "/a/b", query=b"x=1&y=%20")
    assert result.status == code
    assert result.headers["location"] == "https://api.example.com/a/b?x=1&y=%20"
    assert result.body == b""


async def test_raw_path_and_ports() -> None:
    mw = HTTPSRedirectMiddleware(app)
    encoded = await run(mw, path="/caf\u00e9 x", raw_path=b"/caf%C3%A9%20x")
    assert encoded.headers["location"] == "https://api.example.com/caf%C3%A9%20x"
    assert (await run(mw, host=b"api.example.com:80")).headers["location"] == "https://api.example.com/"
    assert (await run(mw, host=b"localhost:8000")).headers["location"] == "https://localhost:8000/"
    assert (await run(mw, host=b"[::1]:80")).headers["location"] == "https://[::1]/"
    fixed = HTTPSRedirectMiddleware(app, HTTPSRedirectConfig(enabled=True, https_port=8443))
    assert (await run(fixed, host=b"localhost:8000")).headers["location"] == "https://localhost:8443/"


async def test_https_requests_pass() -> None:
    assert (await run(HTTPSRedirectMiddleware(app), scheme="https")).status == 200


async def test_trusted_proxy_header_prevents_the_loop_and_untrusted_is_ignored() -> None:
    proto = [(b"x-forwarded-proto", b"https")]
    trusted = build_layer(
        app,
        HTTPSRedirectConfig(enabled=True),
        LayerContext.of(HardeningSettings(environment="test", proxy=ProxyConfig(trusted_proxies=["127.0.0.1/32"]))),
    )
    assert (await run(trusted, headers=proto)).status == 200
    assert (await run(trusted)).status == 301
    untrusted = build_layer(
        app, HTTPSRedirectConfig(enabled=True), LayerContext.of(HardeningSettings(environment="test"))
    )
    assert (await run(untrusted, headers=proto)).status == 301


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/health/db", "/.well-known/acme-challenge/token"])
async def test_probe_and_acme_paths_are_exempt(path: str) -> None:
    assert (await run(HTTPSRedirectMiddleware(app), path=path)).status == 200


@pytest.mark.parametrize("host", [b"evil.com/x", b"caf\xe9.com", None])
async def test_bad_host_is_a_400_problem_not_a_redirect(host: bytes | None) -> None:
    scope = http_scope()
    scope["headers"] = [] if host is None else [(b"host", host)]
    result = await call(HTTPSRedirectMiddleware(app), scope)
    assert result.status == 400
    assert result.headers["content-type"] == "application/problem+json"
    assert "location" not in result.headers


async def test_plain_websocket_is_closed_and_secure_one_passes() -> None:
    sent: list[dict[str, Any]] = []
    ran: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        ran.append(scope["scheme"])

    mw = HTTPSRedirectMiddleware(inner)
    base = {"type": "websocket", "path": "/ws", "headers": [(b"host", b"a.com")], "client": ("127.0.0.1", 1)}
    await mw({**base, "scheme": "ws"}, None, send)  # type: ignore[arg-type]
    await mw({**base, "scheme": "wss"}, None, send)  # type: ignore[arg-type]
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "Use wss://"}]
    assert ran == ["wss"]


def test_config_validation_and_rule() -> None:
    with pytest.raises(ValidationError, match=r"(?s)^(?!.*HARDENING_).*\bexempt_paths\b"):
        HTTPSRedirectConfig(exempt_paths=["x"])
    with pytest.raises(ValidationError):
        HTTPSRedirectConfig(https_port=0)

    def found(**kwargs: Any) -> set[str]:
        return {f.id for f in run_checks(HardeningSettings(**kwargs)) if f.id.startswith("HARDENING-HTTPS")}

    on = HTTPSRedirectConfig(enabled=True)
    assert found(environment="production", https_redirect=on) == {"HARDENING-HTTPS-001"}
    proxied = ProxyConfig(trusted_proxies=["10.0.0.0/8"])
    assert found(environment="production", https_redirect=on, proxy=proxied) == set()
