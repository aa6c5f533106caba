"""Small pieces of the audit: route discovery, the progress line, HTML responses, app settings."""

from __future__ import annotations

import io

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from hardening import AppSettings, HardeningSettings
from hardening._cli_audit import _ProgressLine
from hardening.audit import audit
from hardening.audit._stack import Routes, routes_from_openapi

pytestmark = pytest.mark.needs_extras


def test_routes_from_openapi_skip_parameters_and_pick_probes() -> None:
    document = {
        "paths": {
            "/": {"get": {}},
            "/items": {"post": {}, "get": {}},
            "/items/{item_id}": {"delete": {}},
            "/health": {"parameters": []},
        }
    }
    routes = routes_from_openapi(document)
    assert routes.paths == {"/": frozenset({"GET", "HEAD"}), "/items": frozenset({"GET", "HEAD", "POST"})}
    assert routes.method_not_allowed() == ("DELETE", "/")
    assert routes.json_endpoint() == ("POST", "/items")
    assert routes_from_openapi("not a document") == Routes({})
    assert Routes({}).method_not_allowed() is None
    assert Routes({}).json_endpoint() is None


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_only_on_a_terminal() -> None:
    terminal = _Terminal()
    line = _ProgressLine(terminal)
    line(2, 9, "CORS")
    line.clear()
    assert "[2/9] probing CORS..." in terminal.getvalue()
    assert terminal.getvalue().endswith("\r\x1b[K")
    piped = io.StringIO()
    silent = _ProgressLine(piped)
    silent(1, 9, "headers")
    silent.clear()
    assert piped.getvalue() == ""


def test_html_page_is_graded_as_webapp() -> None:
    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(
            "<html><body>hi</body></html>",
            headers={
                "Content-Security-Policy": "script-src 'unsafe-inline'",
                "Strict-Transport-Security": "max-age=300",
                "Referrer-Policy": "unsafe-url",
                "Cross-Origin-Opener-Policy": "same-origin",
            },
        )

    report = audit(Starlette(routes=[Route("/", page)]), burst=False)
    assert report["AUD-HDR-002"].status == "warn"
    assert report["AUD-HDR-005"].status == "warn"
    assert report["AUD-HDR-006"].status == "warn"
    assert report["AUD-HDR-007"].status == "warn"
    assert report["AUD-HDR-008"].status == "skip"


def test_app_settings_object_runs_app_rules() -> None:
    class Settings(AppSettings):
        api_key: SecretStr = SecretStr("changeme")

    async def home(request: Request) -> JSONResponse:
        return JSONResponse({})

    settings = Settings(hardening=HardeningSettings(environment="production"))
    report = audit(Starlette(routes=[Route("/", home)]), settings=settings, burst=False)
    assert report["AUD-SET-001"].status == "pass"
    rule_ids = {f.id for f in report.findings if f.id.startswith("HARDENING-")}
    assert "HARDENING-HOST-001" in rule_ids
    assert any(f.category == "Configuration" and f.details for f in report.problems)
    with pytest.raises(TypeError, match="settings must be"):
        audit(Starlette(routes=[Route("/", home)]), settings=object(), burst=False)
