"""Single probes against deliberately broken apps; lifespan; redaction; the catalogue."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware as StarletteCORS
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from hardening import HardeningSettings, middleware_list
from hardening.audit import CATALOG, AuditError, LifespanError, audit, render_json, render_markdown, render_text
from hardening.settings.loader import env_example
from tests.audit import apps

pytestmark = pytest.mark.needs_extras

CANARY = "canary-audit-5f4e3d2c1b"


def _app(*routes: Route, **kwargs: Any) -> Starlette:
    return Starlette(routes=list(routes), **kwargs)


async def _home(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def test_cors_reflecting_any_origin_with_credentials_is_p0() -> None:
    app = _app(
        Route("/", _home),
        middleware=[
            Middleware(
                StarletteCORS, allow_origin_regex=".*", allow_credentials=True, allow_methods=["*"], allow_headers=["*"]
            )
        ],
    )
    report = audit(app, burst=False)
    finding = report["AUD-CORS-001"]
    assert (finding.status, finding.priority) == ("fail", "P0")
    assert finding.evidence[0].header("access-control-allow-origin") == "https://audit-probe.invalid"
    assert report["AUD-CORS-002"].status == "fail"
    assert report["AUD-CORS-004"].status == "pass"  # a policy answers preflights, a permissive one
    assert report.exit_code("p0") == 1


def test_specific_origin_without_vary_is_flagged() -> None:
    async def handler(request: Request) -> JSONResponse:
        return JSONResponse({}, headers={"Access-Control-Allow-Origin": "https://app.example.com"})

    report = audit(_app(Route("/", handler)), burst=False, origin="https://app.example.com")
    assert report["AUD-CORS-003"].status == "fail"


def test_traceback_in_debug_500_is_p0() -> None:
    async def create(request: Request) -> JSONResponse:
        return JSONResponse(await request.json())

    app = _app(Route("/", _home), Route("/items", create, methods=["POST"]), debug=True)
    report = audit(app, burst=False)
    finding = report["AUD-ERR-005"]
    assert (finding.status, finding.priority) == ("fail", "P0")
    assert finding.evidence[0].status == 500
    assert report["AUD-ERR-006"].status == "fail"  # the debug page names starlette's files


def test_server_and_powered_by_headers_are_flagged() -> None:
    async def handler(request: Request) -> JSONResponse:
        return JSONResponse({}, headers={"X-Powered-By": "Express"})

    report = audit(_app(Route("/", handler)), burst=False)
    assert report["AUD-LEAK-001"].status == "fail"
    assert "x-powered-by: Express" in report["AUD-LEAK-001"].observed


def test_lifespan_runs_and_state_reaches_requests() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        events.append("startup")
        yield {"greeting": "hello"}
        events.append("shutdown")

    async def home(request: Request) -> JSONResponse:
        return JSONResponse({"greeting": request.state.greeting})

    report = audit(_app(Route("/", home), lifespan=lifespan), burst=False)
    assert events == ["startup", "shutdown"]
    baseline_ok = report["AUD-HDR-001"].status != "skip"
    assert baseline_ok
    assert report.notes == ()


def test_lifespan_failure_is_an_audit_error() -> None:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if CANARY:
            raise RuntimeError(f"cannot connect to postgresql://app:{CANARY}@db/app")
        yield

    with pytest.raises(LifespanError, match="start-up failed") as info:
        audit(_app(Route("/", _home), lifespan=lifespan), burst=False)
    assert CANARY not in str(info.value)
    assert isinstance(info.value, AuditError)


def test_app_without_lifespan_support_is_probed_anyway() -> None:
    async def bare(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        response = Response("hi", media_type="text/plain")
        await response(scope, receive, send)

    report = audit(bare, burst=False)
    assert report.notes
    assert "lifespan" in report.notes[0]
    assert report["AUD-HDR-003"].status == "fail"


def test_layers_found_through_middleware_list() -> None:
    settings = apps.production_settings()
    app = Starlette(routes=[Route("/", _home)], middleware=middleware_list(settings))
    report = audit(app, settings=settings, burst=False)
    assert {"request_id", "headers", "hosts", "cors", "rate_limit"} <= set(report.layers or ())


def test_no_secret_in_any_rendering() -> None:
    async def handler(request: Request) -> Response:
        response = JSONResponse({"error": f"password={CANARY}", "dsn": f"redis://:{CANARY}@cache:6379/0"}, 500)
        response.set_cookie("session", CANARY)
        return response

    report = audit(_app(Route("/", handler)), burst=False)
    for text in (render_text(report), render_markdown(report), render_json(report), repr(report)):
        assert CANARY not in text


def test_settings_class_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDENING_ENVIRONMENT", "production")
    report = audit(apps.make_starlette(), settings=HardeningSettings, burst=False)
    assert report["AUD-SET-001"].status == "pass"
    assert report["AUD-SET-002"].status == "pass"
    host_rule = report["HARDENING-HOST-001"]
    assert (host_rule.priority, host_rule.status, host_rule.category) == ("P1", "fail", "Configuration")
    assert "HARDENING_HOSTS__ALLOWED_HOSTS" in host_rule.fix


def test_invalid_settings_are_p0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDENING_RATE_LIMIT__REPLICAS", "zero")
    report = audit(apps.make_starlette(), settings=HardeningSettings, burst=False)
    finding = report["AUD-SET-002"]
    assert (finding.status, finding.priority) == ("fail", "P0")
    assert any("HARDENING_RATE_LIMIT__REPLICAS" in line for line in finding.details)
    assert "zero" not in render_markdown(report)


def test_development_settings_are_flagged() -> None:
    report = audit(apps.make_starlette(), settings=HardeningSettings(environment="development"), burst=False)
    assert report["AUD-SET-001"].status == "warn"


def test_progress_reports_every_step() -> None:
    seen: list[tuple[int, int, str]] = []
    audit(apps.make_starlette(), burst=False, progress=lambda *step: seen.append(step))
    assert [step for step, _, _ in seen] == list(range(1, len(seen) + 1))
    assert {total for _, total, _ in seen} == {len(seen)}
    assert "rate limiting" in {label for _, _, label in seen}


def test_catalogue_fixes_name_real_environment_variables() -> None:
    known = set(re.findall(r"^(HARDENING_[A-Z0-9_]+)=", env_example(HardeningSettings), re.MULTILINE))
    for spec in CATALOG.values():
        for var in re.findall(r"HARDENING_[A-Z0-9_]+", spec.fix):
            assert var in known, f"{spec.id} names unknown variable {var}"
        assert re.fullmatch(r"AUD-[A-Z]+-\d{3}", spec.id)
        assert spec.priority in ("P0", "P1", "P2")
