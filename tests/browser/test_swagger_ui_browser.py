"""Swagger UI at /docs renders in headless Chromium under the strict docs CSP, and "Try it out" answers.

The FastAPI example (``examples/fastapi_app.py``) runs under a REAL uvicorn; the page's
assets come from the app itself, its scripts carry the request's nonce, and every CSP
violation the browser reports is collected (there must be none).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.servers import require_or_skip
from tests.uvicorn_server import ThreadServer

from hardening.openapi import SWAGGER_ASSETS
from hardening.testing import grade_headers

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.needs_extras]

_WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    from examples.fastapi_app import app

    with ThreadServer(app) as running:
        yield running.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_or_skip(CHROMIUM.exists(), f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def test_docs_page_has_a_strict_csp_and_local_assets(server: str) -> None:
    page = httpx.get(server + "/docs")
    csp = page.headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp
    assert "https:" not in csp  # no CDN, no other host at all
    nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
    assert page.text.count(f'nonce="{nonce}"') == 2  # the bundle and the init script
    assert "cdn" not in page.text
    for name in SWAGGER_ASSETS:
        asset = httpx.get(f"{server}/docs/assets/{name}")
        assert asset.status_code == 200, name
    grade = grade_headers(page.headers.multi_items(), url=server + "/docs", html=page.text)
    print(f"\n/docs Observatory grade: {grade.grade} ({grade.score})")
    assert grade.grade in ("A+", "A"), [(test.name, test.modifier) for test in grade.penalties()]
    assert f"'nonce-{nonce}'" not in httpx.get(server + "/docs").headers["content-security-policy"]  # fresh each time


def test_swagger_ui_renders_under_the_csp_and_try_it_out_answers(server: str, browser: Any) -> None:
    tab = browser.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.add_init_script(_WATCH_CSP)
    try:
        tab.goto(server + "/docs")
        operation = tab.locator("#operations-default-create_item_items_post")
        operation.wait_for(timeout=15_000)
        assert tab.locator(".opblock").count() == 2
        operation.locator(".opblock-summary").click()
        operation.locator("button.try-out__btn").click()
        operation.locator("textarea.body-param__text").fill('{"name": "bolt", "quantity": 3}')
        operation.locator("button.execute").click()
        status = operation.locator(".live-responses-table tbody .response-col_status").first
        status.wait_for(timeout=15_000)
        assert status.inner_text().strip() == "201"
        assert '"bolt"' in operation.locator(".live-responses-table .microlight").first.inner_text()
        # The documented problems are on the page too: the 422 with its ValidationProblem schema.
        assert operation.locator("tr.response[data-code='422']").count() == 1
        violations = tab.evaluate("window.__csp")
    finally:
        tab.close()
    print(f"\nCSP violations on /docs: {violations}")
    assert violations == []
    assert errors == []
