"""The AIOM dashboard and API in headless Chromium against a REAL uvicorn subprocess.

* the dashboard renders, its nonce-bearing script runs and renders user input as text;
* a script injected into the page without the nonce is blocked by the CSP;
* JavaScript on an allowed origin can read a 429 (CORS headers on the rejection);
* a disallowed origin cannot read the API.

The page server is reached two ways: ``http://127.0.0.1:PAGE`` is an allowed origin,
``http://localhost:PAGE`` is not. The API is called as ``http://localhost:API``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.examples.aiom_server import AIOMProcess, aiom_server
from tests.servers import require_or_skip
from tests.uvicorn_server import ThreadServer

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.needs_extras]

AI_LIMIT = 2
XSS_TITLE = '<img src=x onerror="window.__xss = true">Restock'


async def _front_end(request: Request) -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>partner front end</title><p>front end</p>")


@pytest.fixture(scope="module")
def page_server() -> Iterator[ThreadServer]:
    with ThreadServer(Starlette(routes=[Route("/", _front_end)])) as server:
        yield server


@pytest.fixture(scope="module")
def api(page_server: ThreadServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AIOMProcess]:
    env = {
        "HARDENING_CORS__ALLOW_ORIGINS": json.dumps([f"http://127.0.0.1:{page_server.port}"]),
        "AI_RATE_LIMIT": f"{AI_LIMIT}/minute",
    }
    with aiom_server(tmp_path_factory.mktemp("aiom-browser"), env) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_or_skip(CHROMIUM.exists(), f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    try:
        new_page = context.new_page()
        new_page.set_default_timeout(10_000)
        yield new_page
    finally:
        context.close()


RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push({directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample});
});
"""


def test_dashboard_renders_and_its_nonce_script_runs(api: AIOMProcess, page: Any) -> None:
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(f"{api.url}/")
    page.wait_for_selector("html[data-dashboard=ready]")
    assert page.title() == "AIOM dashboard"
    assert "operations" in page.inner_text("#status")

    page.fill("input[name=title]", XSS_TITLE)
    page.click("button[type=submit]")
    page.wait_for_function("title => document.body.innerText.includes(title)", arg="Restock")
    assert XSS_TITLE in page.inner_text("#operations")  # shown as text, never parsed as HTML
    assert page.locator("#operations img").count() == 0
    assert page.evaluate("window.__xss") is None
    assert page.evaluate("window.__violations") == []


def test_injected_script_without_the_nonce_is_blocked(api: AIOMProcess, page: Any) -> None:
    def inject(route: Any) -> None:
        response = route.fetch()
        body = response.text().replace("</body>", "<script>window.__injected = true;</script></body>")
        route.fulfill(response=response, body=body)  # the server's CSP header is kept

    page.add_init_script(RECORD_VIOLATIONS)
    page.route(f"{api.url}/", inject)
    page.goto(f"{api.url}/")
    page.wait_for_selector("html[data-dashboard=ready]")  # the nonce script still runs
    assert page.evaluate("window.__injected") is None
    violations = page.evaluate("window.__violations")
    assert any(v["directive"] == "script-src-elem" and v["blocked"] == "inline" for v in violations), violations


FETCH_UNTIL_429 = """async ([url, attempts]) => {
  let last = null;
  for (let i = 0; i < attempts; i++) {
    try {
      const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                                  body: JSON.stringify({text: "Pallets are low. The supplier ships Monday."})});
      last = {ok: true, status: r.status, retryAfter: r.headers.get("Retry-After"),
              rateLimit: r.headers.get("RateLimit"), type: (await r.json()).type};
      if (r.status === 429) return last;
    } catch (e) { return {ok: false, error: String(e)}; }
  }
  return last;
}"""

FETCH_GET = """async (url) => {
  try { const r = await fetch(url); return {ok: true, status: r.status, body: await r.text()}; }
  catch (e) { return {ok: false, error: String(e)}; }
}"""


def test_allowed_origin_can_read_a_429(api: AIOMProcess, page_server: ThreadServer, page: Any) -> None:
    page.goto(f"http://127.0.0.1:{page_server.port}/")
    api_url = f"http://localhost:{api.port}"
    result = page.evaluate(FETCH_UNTIL_429, [f"{api_url}/api/ai/summary", AI_LIMIT + 3])
    assert result["ok"] is True, result
    assert result["status"] == 429
    assert result["type"] == "urn:hardening:problem:rate-limited"
    assert int(result["retryAfter"]) >= 1  # exposed to the script by Access-Control-Expose-Headers
    assert "ai-summary" in result["rateLimit"]
    listed = page.evaluate(FETCH_GET, f"{api_url}/api/operations")
    assert listed["ok"] is True
    assert listed["status"] == 200


def test_disallowed_origin_cannot_read_the_api(api: AIOMProcess, page_server: ThreadServer, page: Any) -> None:
    page.goto(f"http://localhost:{page_server.port}/")
    for path in ("/api/operations", "/api/ai/usage"):
        result = page.evaluate(FETCH_GET, f"http://127.0.0.1:{api.port}{path}")
        assert result["ok"] is False, result
        assert "Failed to fetch" in result["error"]
    result = page.evaluate(FETCH_UNTIL_429, [f"http://127.0.0.1:{api.port}/api/ai/summary", 1])
    assert result["ok"] is False  # the preflight is refused, so the POST is never sent


def test_no_server_errors_in_the_log(api: AIOMProcess, tmp_path: Path) -> None:
    log = api.log()
    assert "Traceback" not in log
    assert '"status":500' not in log
