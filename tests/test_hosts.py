"""Trusted hosts: exact and wildcard hosts, ports, IPv6, malformed Host, probes, websockets."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.types import Scope

from hardening import HardeningSettings, LayerContext, build_layer
from hardening.checks import run_checks
from hardening.hosts import DEVELOPMENT_HOSTS, TrustedHostConfig, TrustedHostMiddleware, parse_host
from tests.asgi_call import call, http_scope

pytestmark = pytest.mark.anyio

HOSTS = ("api.example.com", "*.example.org", "admin.example.net:8443", "10.0.0.5", "::1", "[2001:db8::1]:9000")


async def app(scope: Any, receive: Any, send: Any) -> None:
    scope["state"]["app_ran"] = True
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def middleware(**kwargs: Any) -> TrustedHostMiddleware:
    environment = kwargs.pop("environment", "production")
    return TrustedHostMiddleware(app, TrustedHostConfig(**kwargs), context=LayerContext(environment=environment))


def host_scope(host: bytes | None, path: str = "/", scheme: str = "http", *, extra: int = 0) -> Scope:
    scope = http_scope(path=path)
    scope["scheme"] = scheme
    headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
    if host is not None:
        headers.extend([(b"host", host)] * (1 + extra))
    scope["headers"] = headers
    return scope


@pytest.mark.parametrize(
    ("host", "scheme", "allowed"),
    [
        (b"api.example.com", "http", True),
        (b"API.Example.COM", "http", True),
        (b"api.example.com.", "http", True),
        (b"api.example.com:8000", "http", True),  # no port in the entry: any port
        (b"a.example.org", "https", True),
        (b"a.b.example.org", "https", True),
        (b"example.org", "https", False),  # the apex is not a subdomain
        (b"badexample.org", "https", False),
        (b"admin.example.net:8443", "https", True),
        (b"admin.example.net", "https", False),  # default port 443 is not 8443
        (b"admin.example.net:443", "https", False),
        (b"10.0.0.5:8080", "http", True),
        (b"10.0.0.6", "http", False),
        (b"[::1]:8000", "http", True),
        (b"[0:0:0:0:0:0:0:1]", "http", True),
        (b"[2001:db8::1]:9000", "http", True),
        (b"[2001:db8::1]", "http", False),
        (b"api.example.com.evil.com", "http", False),
        (b"evil.com", "http", False),
    ],
)
async def test_host_matching(host: bytes, scheme: str, allowed: bool) -> None:
    scope = host_scope(host, scheme=scheme)
    result = await call(middleware(allowed_hosts=HOSTS), scope)
    assert ("app_ran" in scope["state"]) is allowed
    assert result.status == (200 if allowed else 400)


@pytest.mark.parametrize(
    "host",
    [
        None,
        b"",
        b"api.example.com:",
        b"api.example.com:99999",
        b"api.example.com/../x",
        b"api.example.com@evil.com",
        b"api.example.com:80:80",
        b"[::1",
        b"[zz::1]",
        b"[1:2:3]",
        b"api example.com",
        b"\xff\xfe",
        b"api.example.com\r\nx: y",
    ],
)
async def test_missing_or_malformed_host_is_a_400_problem(host: bytes | None) -> None:
    scope = host_scope(host)
    result = await call(middleware(allowed_hosts=["*"]), scope)
    assert result.status == 400
    assert result.headers["content-type"] == "application/problem+json"
    body = result.json()
    assert body["type"] == "urn:hardening:problem:invalid-host"
    assert "app_ran" not in scope["state"]


async def test_repeated_host_header_is_refused() -> None:
    result = await call(middleware(allowed_hosts=HOSTS), host_scope(b"api.example.com", extra=1))
    assert result.status == 400


async def test_rejection_does_not_echo_the_host() -> None:
    result = await call(middleware(allowed_hosts=HOSTS), host_scope(b"canary-host-7f3a.evil.com"))
    assert b"canary-host-7f3a" not in result.body


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/startupz", "/health", "/health/"])
async def test_probe_paths_are_exempt_with_a_pod_ip_host(path: str) -> None:
    scope = host_scope(b"10.244.1.17:8080", path=path)
    result = await call(middleware(allowed_hosts=["api.example.com"]), scope)
    assert result.status == 200


async def test_exemption_uses_segment_boundaries_and_can_be_changed() -> None:
    assert (await call(middleware(allowed_hosts=["a.com"]), host_scope(b"x.com", path="/healthz"))).status == 400
    custom = middleware(allowed_hosts=["a.com"], exempt_paths=["/ping"])
    assert (await call(custom, host_scope(b"x.com", path="/ping"))).status == 200
    assert (await call(custom, host_scope(b"x.com", path="/livez"))).status == 400


async def test_websocket_with_a_foreign_host_is_closed_before_accept() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "scheme": "ws", "headers": [(b"host", b"evil.com")], "state": {}}
    await middleware(allowed_hosts=HOSTS)(scope, None, send)  # type: ignore[arg-type]
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "Invalid host header"}]
    assert "app_ran" not in scope["state"]


def test_disabled_and_is_allowed_edge_cases() -> None:
    assert build_layer(app, TrustedHostConfig(enabled=False)) is app
    assert middleware(allowed_hosts=["*"]).is_allowed(None) is False
    assert middleware(allowed_hosts=["*"]).is_allowed(b"any.example") is True


async def test_lifespan_passes_through() -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await TrustedHostMiddleware(inner, TrustedHostConfig())({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


@pytest.mark.parametrize("environment", ["development", "test"])
async def test_development_allows_local_hosts_when_none_are_listed(environment: str) -> None:
    mw = middleware(environment=environment)
    for host in (b"localhost:8000", b"127.0.0.1", b"[::1]:8000", b"testserver"):
        assert (await call(mw, host_scope(host))).status == 200
    assert (await call(mw, host_scope(b"evil.com"))).status == 400
    assert TrustedHostConfig().effective_hosts(environment) == DEVELOPMENT_HOSTS


async def test_production_with_no_hosts_refuses_everything_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="hardening.hosts")
    mw = build_layer(app, TrustedHostConfig(), LayerContext.of(HardeningSettings(environment="production")))
    assert (await call(mw, host_scope(b"localhost"))).status == 400
    assert "allowed_hosts is empty" in caplog.text


def test_config_normalises_and_validates() -> None:
    config = TrustedHostConfig(
        allowed_hosts=["API.example.com", "::1", "[::0001]:80", "*.Example.org", "api.example.com"]
    )
    assert config.allowed_hosts == ("api.example.com", "[::1]", "[::1]:80", "*.example.org")
    for bad in ("https://api.example.com", "api.example.com/", "*.com", "a.*.example.com", "*", ""):
        if bad == "*":
            assert TrustedHostConfig(allowed_hosts=[bad]).allowed_hosts == ("*",)
            continue
        with pytest.raises(ValidationError, match=r"(?s)^(?!.*HARDENING_).*\ballowed_hosts\b"):
            TrustedHostConfig(allowed_hosts=[bad])
    with pytest.raises(ValidationError, match=r"(?s)^(?!.*HARDENING_).*\bexempt_paths\b"):
        TrustedHostConfig(exempt_paths=["livez"])


def test_parse_host() -> None:
    assert parse_host("Example.COM.:8080") == ("example.com", 8080)
    assert parse_host("[::1]") == ("[::1]", None)
    assert parse_host("exa_mple.com") == ("exa_mple.com", None)
    assert parse_host("a..b") is None
    assert parse_host(b"Example.COM.:8080") == ("example.com", 8080)  # the raw header
    assert parse_host("ex\u00e4mple.com".encode("latin-1")) is None  # not ASCII
    assert parse_host(None) is None  # absent


def test_production_rules() -> None:
    def found(**kwargs: Any) -> set[str]:
        return {f.id for f in run_checks(HardeningSettings(**kwargs)) if f.id.startswith("HARDENING-HOST")}

    assert found(environment="production") == {"HARDENING-HOST-001"}
    assert found(environment="production", hosts=TrustedHostConfig(allowed_hosts=["*"])) == {"HARDENING-HOST-002"}
    assert found(environment="production", hosts=TrustedHostConfig(enabled=False)) == {"HARDENING-HOST-003"}
    assert found(environment="production", hosts=TrustedHostConfig(allowed_hosts=["api.example.com"])) == set()
    assert found(environment="development") == set()


# --- property: a host that is not allowed never reaches the app -------------------------

_LABELS = st.sampled_from(["api", "example", "com", "org", "evil", "a", "xn--bcher-kva", "10", "0", "5"])
_HOSTS = st.one_of(
    st.lists(_LABELS, min_size=1, max_size=4).map(".".join),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz.:-[]_0123456789@/ ", max_size=30),
    st.sampled_from(["[::1]", "[2001:db8::1]", "[::ffff:10.0.0.5]", "10.0.0.5"]),
)
_PORTS = st.one_of(st.none(), st.sampled_from([80, 443, 8000, 8443, 9000, 70000]))


def _oracle(host: str, port: int | None) -> bool:
    """Independent statement of the allow-list in HOSTS (scheme https, default port 443)."""
    labels = host.rstrip(".").split(".")
    effective = 443 if port is None else port
    name = host.rstrip(".")
    if name == "api.example.com":
        return True
    if len(labels) >= 3 and labels[-2:] == ["example", "org"] and all(labels):
        return True
    if name == "admin.example.net" and effective == 8443:
        return True
    if name == "10.0.0.5" or name == "[::1]":
        return True
    return name == "[2001:db8::1]" and effective == 9000


@given(host=_HOSTS, port=_PORTS)
async def test_a_host_not_allowed_never_reaches_the_app(host: str, port: int | None) -> None:
    value = host if port is None else f"{host}:{port}"
    scope = host_scope(value.encode(), scheme="https")
    result = await call(middleware(allowed_hosts=HOSTS), scope)
    reached = "app_ran" in scope["state"]
    parsed = parse_host(value)
    assert reached == (parsed is not None and _oracle(*parsed)), value
    assert result.status == (200 if reached else 400)
    names = [k for k, _ in result.starts[0]["headers"]]
    assert len(names) == len(set(names))
