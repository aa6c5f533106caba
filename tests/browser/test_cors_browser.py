"""CORS in a real browser: headless Chromium against real uvicorn servers on loopback.

Two origins come from one page server reached two ways: ``http://127.0.0.1:PAGE`` is
allowed by the API's CORS config and ``http://localhost:PAGE`` is not. The API is a
hardened Starlette app on another port, so every fetch is cross-origin (and cross-site,
which also exercises the CSRF layer's trust of CORS origins).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route
from tests.browser.chromium import CHROMIUM as CHROMIUM_PATH
from tests.browser.chromium import CHROMIUM_ARGS
from tests.uvicorn_server import ThreadServer

from hardening import CORSConfig, HardeningSettings, TrustedHostConfig, harden

pytestmark = pytest.mark.browser

CHROMIUM = str(CHROMIUM_PATH)


def _need_chromium() -> None:
    if os.path.exists(CHROMIUM) and shutil.which(CHROMIUM):
        return
    reason = f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


async def _page(request: Request) -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>front end</title><p>front end</p>")


seen_requests: list[tuple[str, str | None]] = []


async def _data(request: Request) -> JSONResponse:
    seen_requests.append((request.method, request.headers.get("origin")))
    if request.method == "POST":
        return JSONResponse({"received": await request.json()})
    return JSONResponse({"value": "cross-origin-readable"})


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[int, int]]:
    page_app = Starlette(routes=[Route("/", _page)])
    with ThreadServer(page_app) as page:
        settings = HardeningSettings(
            environment="test",
            hosts=TrustedHostConfig(allowed_hosts=["127.0.0.1", "localhost"]),
            cors=CORSConfig(allow_origins=[f"http://127.0.0.1:{page.port}"]),
        )
        api_app = harden(Starlette(routes=[Route("/data", _data, methods=["GET", "POST"])]), settings)
        with ThreadServer(api_app) as api:
            yield page.port, api.port


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _need_chromium()
    from playwright.sync_api import sync_playwright  # only for browser tests

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


FETCH_GET = """async (url) => {
  try { const r = await fetch(url); return {ok: true, body: await r.text()}; }
  catch (e) { return {ok: false, error: String(e)}; }
}"""

FETCH_POST = """async (url) => {
  try {
    const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json",
                                 "X-Request-ID": "browser-test"}, body: JSON.stringify({n: 1})});
    return {ok: true, status: r.status, body: await r.text()};
  } catch (e) { return {ok: false, error: String(e)}; }
}"""


def _run(browser: Any, page_origin: str, script: str, url: str) -> dict[str, Any]:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(page_origin + "/")
        result: dict[str, Any] = page.evaluate(script, url)
        return result
    finally:
        context.close()


def test_allowed_origin_reads_the_response(servers: tuple[int, int], browser: Any) -> None:
    page_port, api_port = servers
    result = _run(browser, f"http://127.0.0.1:{page_port}", FETCH_GET, f"http://localhost:{api_port}/data")
    assert result == {"ok": True, "body": '{"value":"cross-origin-readable"}'}


def test_allowed_origin_passes_preflight_and_csrf(servers: tuple[int, int], browser: Any) -> None:
    page_port, api_port = servers
    result = _run(browser, f"http://127.0.0.1:{page_port}", FETCH_POST, f"http://localhost:{api_port}/data")
    assert result == {"ok": True, "status": 200, "body": '{"received":{"n":1}}'}


def test_disallowed_origin_cannot_read_the_response(servers: tuple[int, int], browser: Any) -> None:
    page_port, api_port = servers
    origin = f"http://localhost:{page_port}"
    seen_requests.clear()
    for script in (FETCH_GET, FETCH_POST):
        result = _run(browser, origin, script, f"http://127.0.0.1:{api_port}/data")
        assert result["ok"] is False
        assert "Failed to fetch" in result["error"]
    # The simple GET reached the app and the browser withheld the answer; the POST's
    # preflight was refused, so the POST itself was never sent.
    assert seen_requests == [("GET", origin)]
