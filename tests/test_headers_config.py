"""Security-headers settings: start-up validation, environment, reports, rules, invariants."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from hardening import HardeningSettings, check_settings
from hardening.checks import run_checks
from hardening.errors import MissingDependencyError
from hardening.headers import LEAKY_HEADERS, SecurityHeadersConfig, SecurityHeadersMiddleware
from hardening.headers._config import MANAGED_HEADERS
from tests.extras import import_extra

import_extra("secure", "hardening[headers]")

pytestmark = pytest.mark.needs_extras


def test_defaults_are_on() -> None:
    config = SecurityHeadersConfig()
    assert config.enabled
    assert config.hsts.enabled
    assert "server" in config.remove
    assert "x-powered-by" in config.remove


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"api": {"csp": "default-src self"}}, "must be quoted"),
        ({"api": {"csp": "default-src 'none'; default-src 'self'"}}, "appears twice"),
        ({"api": {"csp": "defualt-src 'none'"}}, "unknown CSP directive"),
        ({"webapp": {"csp": "script-src 'strict-dynamic'"}}, "without a nonce"),
        ({"api": {"csp": "default-src 'none'\r\nX-Evil: 1"}}, "CR/LF"),
        ({"api": {"referrer_policy": "no-referer"}}, "unknown policy"),
        ({"api": {"permissions_policy": "camera=none"}}, "is not 'feature=()'"),
        ({"api": {"extra": {"X-Test": "a\r\nSet-Cookie: x=1"}}}, "control character"),
        ({"api": {"extra": {"Bad Name": "a"}}}, "not a valid header name"),
        ({"api": {"cache_control": "no-store; max-age=0"}}, "not a Cache-Control directive"),
        ({"hsts": {"preload": True, "include_subdomains": False}}, "preload needs include_subdomains=true"),
        ({"hsts": {"max_age": -1}}, "max_age must be >= 0"),
        ({"override": ("x-request-id",)}, "override\n  Value error, x-request-id not set by this layer"),
        ({"path_profiles": {"docs/": "docs"}}, "path_profiles\n  Value error, 'docs/' must start with '/'"),
        ({"webapp": {"csp": "default-src 'self'; report-to grp"}}, "has no Reporting-Endpoints"),
        ({"reporting": {"endpoint": "csp reports"}}, "endpoint: expected an absolute URL"),
    ],
)
def test_invalid_values_fail_at_start_up_naming_the_setting(overrides: dict[str, Any], fragment: str) -> None:
    """Built in code, the error names the field; only the settings loader names variables."""
    with pytest.raises(ValidationError) as info:
        SecurityHeadersConfig(**overrides)
    assert fragment in str(info.value)
    assert "HARDENING_" not in str(info.value)


@pytest.mark.parametrize(
    ("env", "target"),
    [
        ({"HARDENING_HEADERS__API__CSP": "default-src self"}, "setting headers.api.csp (HARDENING_HEADERS__API__CSP)"),
        ({"HARDENING_HEADERS__HSTS__MAX_AGE": "-1"}, "headers.hsts.max_age (HARDENING_HEADERS__HSTS__MAX_AGE) must"),
        (
            {"HARDENING_HEADERS__WEBAPP__CSP": "default-src 'self'; report-to grp"},
            "headers.webapp.csp (HARDENING_HEADERS__WEBAPP__CSP): report-to 'grp' has no",
        ),
    ],
)
def test_loaded_from_the_environment_the_report_names_the_nested_setting(env: dict[str, str], target: str) -> None:
    report = check_settings(environ={"HARDENING_ENVIRONMENT": "development", **env})
    assert target in report.text()


def test_profile_errors_built_in_code_name_the_field() -> None:
    with pytest.raises(ValidationError, match=r"(?s)^(?!.*HARDENING_).*webapp.*csp: keyword"):
        SecurityHeadersConfig(webapp={"csp": "script-src unsafe-inline"})


def test_environment_overrides_one_field_and_keeps_the_profile_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDENING_HEADERS__API__CSP", "default-src 'none'; frame-ancestors 'none'")
    monkeypatch.setenv("HARDENING_HEADERS__WEBAPP__X_FRAME_OPTIONS", "off")
    monkeypatch.setenv("HARDENING_HEADERS__HSTS__MAX_AGE", "31536000")
    settings = HardeningSettings()
    assert settings.headers.api.csp == "default-src 'none'; frame-ancestors 'none'"
    assert settings.headers.api.cache_control == "no-store"  # API default kept
    assert settings.headers.webapp.x_frame_options is None
    assert settings.headers.hsts.max_age == 31536000


def test_missing_secure_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "secure", None)
    with pytest.raises(MissingDependencyError, match=r"hardening\[headers\]"):
        SecurityHeadersMiddleware(Starlette())


# --- reporting -------------------------------------------------------------------------


async def page(request: Request) -> Response:
    return HTMLResponse("<p>hi</p>")


def reporting_app(**reporting: Any) -> SecurityHeadersMiddleware:
    config = SecurityHeadersConfig(
        reporting=reporting, webapp={"csp_report_only": "default-src 'none'; script-src 'nonce' 'strict-dynamic'"}
    )
    return SecurityHeadersMiddleware(Starlette(routes=[Route("/", page)]), config)


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://app.example.com")


@pytest.mark.anyio
async def test_reporting_endpoint_adds_directives_and_reporting_endpoints() -> None:
    async with client(reporting_app(endpoint="https://reports.example.com/csp")) as c:
        response = await c.get("/")
    enforced = response.headers["content-security-policy"]
    report_only = response.headers["content-security-policy-report-only"]
    for policy in (enforced, report_only):
        assert "report-uri https://reports.example.com/csp" in policy
        assert "report-to csp-endpoint" in policy
    assert response.headers["reporting-endpoints"] == 'csp-endpoint="https://reports.example.com/csp"'
    assert report_only.count("'nonce-") == 1


CSP_REPORT = {
    "csp-report": {
        "document-uri": "https://app.example.com/page?token=canary-secret-123",
        "blocked-uri": "inline",
        "effective-directive": "script-src-elem",
        "disposition": "enforce",
    }
}


@pytest.mark.anyio
async def test_receiver_logs_redacted_reports(caplog: pytest.LogCaptureFixture) -> None:
    app = reporting_app(receiver=True)
    async with client(app) as c:
        page_response = await c.get("/")
        with caplog.at_level(logging.WARNING, logger="hardening.csp"):
            response = await c.post(
                "/.well-known/csp-reports",
                content=json.dumps(CSP_REPORT),
                headers={"content-type": "application/csp-report"},
            )
            batch = [
                {
                    "type": "csp-violation",
                    "body": {"effectiveDirective": "img-src", "blockedURL": "https://x.test/a?k=v"},
                }
            ]
            response2 = await c.post(
                "/.well-known/csp-reports", json=batch, headers={"content-type": "application/reports+json"}
            )
    assert "report-uri /.well-known/csp-reports" in page_response.headers["content-security-policy"]
    assert response.status_code == 204
    assert response2.status_code == 204
    assert response.headers["x-content-type-options"] == "nosniff"  # the receiver is hardened too
    text = caplog.text
    assert "script-src-elem blocked inline on https://app.example.com/page" in text
    assert "img-src blocked https://x.test/a" in text
    assert "canary-secret-123" not in text
    assert "k=v" not in text


@pytest.mark.anyio
async def test_receiver_rejects_bad_requests() -> None:
    app = reporting_app(receiver=True, max_body_bytes=100)
    path = "/.well-known/csp-reports"
    async with client(app) as c:
        assert (await c.get(path)).status_code == 405
        assert (await c.post(path, content=b"{}", headers={"content-type": "text/plain"})).status_code == 415
        big = await c.post(path, content=b"x" * 101, headers={"content-type": "application/csp-report"})
        assert big.status_code == 413
        assert big.headers["content-type"] == "application/problem+json"
        bad = await c.post(path, content=b"{nope", headers={"content-type": "application/csp-report"})
        assert bad.status_code == 400


@pytest.mark.anyio
async def test_receiver_is_rate_limited_so_it_cannot_flood_logs(caplog: pytest.LogCaptureFixture) -> None:
    app = reporting_app(receiver=True, max_reports_per_minute=3)
    body = json.dumps(CSP_REPORT)
    headers = {"content-type": "application/csp-report"}
    async with client(app) as c:
        with caplog.at_level(logging.WARNING, logger="hardening.csp"):
            statuses = [
                (await c.post("/.well-known/csp-reports", content=body, headers=headers)).status_code for _ in range(10)
            ]
    assert statuses[:3] == [204, 204, 204]
    assert set(statuses[3:]) == {429}
    assert len([r for r in caplog.records if r.name == "hardening.csp"]) == 3


# --- production rules ------------------------------------------------------------------


def ids(settings: HardeningSettings) -> set[str]:
    return {finding.id for finding in run_checks(settings) if finding.id.startswith("HARDENING-HDR")}


def test_production_rules() -> None:
    assert ids(HardeningSettings()) == set()  # the default docs CSP (Swagger UI's bootstrap) is not judged
    assert "HARDENING-HDR-001" in ids(HardeningSettings(headers=SecurityHeadersConfig(hsts={"enabled": False})))
    assert "HARDENING-HDR-001" in ids(HardeningSettings(headers=SecurityHeadersConfig(enabled=False)))
    assert "HARDENING-HDR-003" in ids(HardeningSettings(headers=SecurityHeadersConfig(hsts={"max_age": 3600})))
    unsafe = SecurityHeadersConfig(webapp={"csp": "default-src 'self'; script-src 'self' 'unsafe-inline'"})
    findings = [f for f in run_checks(HardeningSettings(headers=unsafe)) if f.id == "HARDENING-HDR-002"]
    assert {(f.setting, f.severity) for f in findings} >= {("headers.webapp.csp", "error")}
    assert findings[0].env_var.startswith("HARDENING_HEADERS__")
    nonce_ok = SecurityHeadersConfig(webapp={"csp": "script-src 'nonce' 'unsafe-inline' 'strict-dynamic'"})
    assert ("headers.webapp.csp", "error") not in {
        (f.setting, f.severity) for f in run_checks(HardeningSettings(headers=nonce_ok))
    }


# --- invariant: no response ever carries a header twice --------------------------------

_names = st.sampled_from([*sorted(MANAGED_HEADERS), *LEAKY_HEADERS[:8], "x-app"])
_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)
_APP_HEADERS: list[tuple[bytes, bytes]] = []


async def _dynamic(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": list(_APP_HEADERS)})
    await send({"type": "http.response.body", "body": b"{}"})


_MIDDLEWARES = [
    SecurityHeadersMiddleware(_dynamic),
    SecurityHeadersMiddleware(_dynamic, SecurityHeadersConfig(override=tuple(sorted(MANAGED_HEADERS)))),
]


@given(
    headers=st.lists(st.tuples(_names, _values), max_size=12),
    content_type=st.sampled_from(["application/json", "text/html; charset=utf-8", "image/png", None]),
    which=st.sampled_from([0, 1]),
    scheme=st.sampled_from(["http", "https"]),
)
def test_no_response_ever_carries_a_managed_header_twice(
    headers: list[tuple[str, str]], content_type: str | None, which: int, scheme: str
) -> None:
    import asyncio

    _APP_HEADERS[:] = [(n.encode(), v.encode()) for n, v in headers]
    if content_type:
        _APP_HEADERS.append((b"content-type", content_type.encode()))
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": "/", "scheme": scheme, "headers": [(b"host", b"a.example")]}
    asyncio.run(_MIDDLEWARES[which](scope, receive, send))
    names = [name.lower() for name, _ in sent[0]["headers"]]
    duplicated = {name for name in names if names.count(name) > 1}
    # The app may repeat its own headers (Set-Cookie, Link, ...); never one this layer manages.
    assert not duplicated & {name.encode() for name in MANAGED_HEADERS}
    assert not set(names) & {n.encode() for n in LEAKY_HEADERS}
    assert b"x-frame-options" in names


def test_every_profile_default_is_json_ready() -> None:
    dumped = SecurityHeadersConfig().model_dump(mode="json")
    assert SecurityHeadersConfig.model_validate(dumped) == SecurityHeadersConfig()
    assert isinstance(JSONResponse(dumped).body, bytes)
