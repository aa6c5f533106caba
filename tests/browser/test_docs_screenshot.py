"""Headless Chromium opens the built documentation site: navigation and code blocks render.

The site is built with ``mkdocs build`` into a temporary directory, served by the
standard library's ``http.server`` on 127.0.0.1, and opened with Playwright driving the
system Chromium. A PNG screenshot of each page is saved next to the site for a human look.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.servers import require_or_skip
from tests.test_docs_site import mkdocs_available

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent.parent
PAGES = {
    "home": "/",
    "capability": "/capabilities/health/",
}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's parameter name
        """Keep the test output clean."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_or_skip(mkdocs_available(), "mkdocs, mkdocs-material or mkdocstrings-python is not installed")
    out = tmp_path_factory.mktemp("docs") / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    return out


@pytest.fixture(scope="module")
def base_url(site: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_or_skip(CHROMIUM.exists(), f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), headless=True)
        try:
            yield instance
        finally:
            instance.close()


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_renders_navigation_and_code(browser: Any, base_url: str, site: Path, name: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    try:
        response = page.goto(base_url + PAGES[name], wait_until="load")
        assert response is not None
        assert response.status == 200

        # The primary navigation is rendered and visible, with the site's sections in it.
        nav = page.locator("nav.md-nav--primary").first
        assert nav.is_visible()
        nav_text = nav.inner_text()
        for section in ("Getting started", "Capabilities", "Guides", "Reference"):
            assert section in nav_text, f"{section!r} missing from the navigation"

        # Code blocks are highlighted by Pygments and laid out with a real size.
        blocks = page.locator("div.highlight pre")
        assert blocks.count() >= 1
        first = blocks.first
        first.scroll_into_view_if_needed()
        box = first.bounding_box()
        assert box is not None
        assert box["width"] > 100
        assert box["height"] > 20
        assert page.locator("div.highlight pre span").count() > 5, "no syntax-highlighting spans"
        assert "import" in first.inner_text() or "pip install" in first.inner_text()

        # The theme's stylesheet and script loaded (no request to them failed).
        assert not [url for url in failed if url.startswith(base_url)], failed

        shot = site.parent / f"{name}.png"
        page.screenshot(path=str(shot), full_page=False)
        assert shot.stat().st_size > 10_000
    finally:
        page.close()
