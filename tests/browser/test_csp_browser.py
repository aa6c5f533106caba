"""Headless Chromium enforces the hardened CSP: the nonce script runs, the other is blocked."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.uvicorn_server import ThreadServer

from hardening.headers import SecurityHeadersMiddleware
from hardening.headers.csp import csp_nonce

pytestmark = pytest.mark.browser


def _chromium() -> str:
    path = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    if path is None:
        reason = "Chromium not found at /usr/bin/chromium: apt-get install -y chromium"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


async def page(request: Request) -> Response:
    nonce = csp_nonce(request)
    return HTMLResponse(
        "<!doctype html><html><body><p id='out'></p>"
        f"<script nonce='{nonce}'>window.allowedRan = true;</script>"
        "<script>window.blockedRan = true;</script>"
        "</body></html>"
    )


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with ThreadServer(SecurityHeadersMiddleware(Starlette(routes=[Route("/", page)]))) as running:
        yield running.url


def test_served_by_uvicorn_without_server_header(server: str) -> None:
    response = httpx.get(server + "/")
    assert "server" not in response.headers
    assert "'nonce-" in response.headers["content-security-policy"]


def test_browser_runs_nonce_script_and_blocks_the_other(server: str) -> None:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            tab = browser.new_page()
            violations: list[str] = []
            tab.on("console", lambda message: violations.append(message.text))
            tab.goto(server + "/")
            assert tab.evaluate("window.allowedRan === true")
            assert tab.evaluate("window.blockedRan === undefined")
            assert any("Content Security Policy" in text for text in violations), violations
        finally:
            browser.close()
