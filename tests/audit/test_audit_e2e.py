"""The audit against a REAL uvicorn server, by URL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hardening.audit import audit, render_markdown
from tests.servers import free_port, wait_for_port

pytest.importorskip("uvicorn")

pytestmark = [pytest.mark.e2e, pytest.mark.needs_extras]

ROOT = Path(__file__).parents[2]


def _serve(target: str, *extra: str) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, 20, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture
def bare_url() -> Iterator[str]:
    yield from _serve("tests.audit.apps:bare_starlette")


@pytest.fixture
def hardened_url() -> Iterator[str]:
    yield from _serve("tests.audit.apps:served_hardened", "--factory", "--no-server-header")


def test_bare_service_by_url(bare_url: str) -> None:
    report = audit(bare_url, burst_max=60)
    assert report.mode == "url"
    assert report.layers is None
    assert {"AUD-HEALTH-001", "AUD-HOST-001", "AUD-HDR-003", "AUD-RL-001", "AUD-ERR-004"} <= report.problem_ids()
    # a plain Starlette service publishes no OpenAPI document, so no JSON endpoint is known by URL
    assert report["AUD-ERR-003"].status == "skip"
    leak = report["AUD-LEAK-001"]
    assert leak.status == "fail"
    assert "server: uvicorn" in leak.observed  # uvicorn adds it unless --no-server-header
    assert report["AUD-HDR-005"].status == "skip"  # plain HTTP
    assert report["AUD-STACK-001"].status == "skip"
    assert report.exit_code() == 1
    assert "```http" in render_markdown(report)


def test_hardened_service_by_url(hardened_url: str) -> None:
    report = audit(hardened_url, origin="https://app.example.com")
    assert report.problem_ids("P0") == set()
    assert report.problem_ids("P1") == set()
    assert report["AUD-RL-001"].status == "pass"
    assert report["AUD-ERR-004"].status == "pass", report["AUD-ERR-004"].observed
    assert report["AUD-HOST-001"].status == "pass"
    assert report["AUD-LEAK-001"].status == "pass"
    assert report.exit_code() == 0
