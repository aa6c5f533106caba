"""The benchmark harness runs: every app answers 200 through the in-process driver.

Benchmarks report and never gate, so nothing here looks at a timing: a tiny run only
proves that each app (every layer alone, the full stack, the peers) can be built and
answers the benchmark request, which is what makes the published comparison meaningful.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.extras import import_extra

pytestmark = pytest.mark.needs_extras  # the peers (slowapi, secure, ...) and limits

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The benchmark sets process-wide logging (null sinks, ``configure_logging``): undo it."""
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    saved = [(lg, list(lg.handlers), lg.level, lg.propagate, lg.disabled) for lg in loggers]
    structlog = sys.modules.get("structlog")
    structlog_config = structlog.get_config() if structlog is not None else None
    yield
    for lg, handlers, level, propagate, disabled in saved:
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate
        lg.disabled = disabled
    for name in ("hardening", "hardening.access"):  # created by the benchmark if they were not yet
        if not any(lg.name == name for lg, *_ in saved):
            created = logging.getLogger(name)
            created.handlers.clear()
            created.setLevel(logging.NOTSET)
            created.propagate = True
    if structlog is not None and structlog_config is not None:
        structlog.configure(**structlog_config)
    elif "structlog" in sys.modules:
        sys.modules["structlog"].reset_defaults()


@pytest.fixture(scope="module")
def inprocess() -> Iterator[ModuleType]:
    import_extra("slowapi", "the test dependency group")
    import_extra("asgi_correlation_id", "the test dependency group")
    sys.path.insert(0, str(ROOT))
    try:
        from bench import inprocess as module

        yield module
    finally:
        sys.path.remove(str(ROOT))


def test_every_benchmarked_app_answers_the_benchmark_request(inprocess: ModuleType) -> None:
    from bench.apps import LAYER_OVERRIDES, apps

    rows = inprocess.run(n=3, rounds=1)

    assert [row for row in rows if "error" in row] == []
    names = [row["app"] for row in rows]
    assert names == list(apps())
    assert {f"hardening: {layer}" for layer in LAYER_OVERRIDES} <= set(names)
    assert {"hardening: full stack", "peer: stack of the four"} <= set(names)
    assert all(row["us_per_request"] > 0 for row in rows)


def test_cost_in_place_covers_every_layer_of_the_full_stack(inprocess: ModuleType) -> None:
    from bench.apps import full_stack_layers

    rows = inprocess.marginal(n=2, rounds=2)

    assert [row["layer"] for row in rows] == full_stack_layers()
    assert {"request_id", "access_log", "headers", "cors", "rate_limit"} <= set(full_stack_layers())


def test_full_stack_is_a_production_configuration() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from bench.apps import LAYER_OVERRIDES, hardening_settings
    finally:
        sys.path.remove(str(ROOT))
    from hardening import LAYER_ORDER

    settings = hardening_settings()
    assert settings.environment == "production"
    assert set(LAYER_OVERRIDES) <= set(LAYER_ORDER)
    for layer in ("request_id", "access_log", "errors", "headers", "hosts", "cors", "body_limit", "rate_limit"):
        assert getattr(settings, layer).enabled, layer
    assert settings.rate_limit.storage_uri.get_secret_value() == "async+memory://"
    alone = hardening_settings("cors")
    assert [name for name in LAYER_ORDER if getattr(alone, name).enabled] == ["cors"]


def test_headers_only_control_sends_the_full_stack_headers_and_nothing_else(inprocess: ModuleType) -> None:
    """The control row of the uvicorn table: the bare app's answer plus the full stack's headers."""
    import asyncio

    from bench.apps import bare, full_stack_added_headers, headers_only

    async def answer(app: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        messages: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        await app(inprocess._scope(), receive, send)
        start, body = messages[0], messages[1]
        return start["status"], list(start["headers"]), body["body"]

    added = full_stack_added_headers()
    names = {name for name, _ in added}
    assert {b"content-security-policy", b"x-frame-options", b"access-control-allow-origin", b"ratelimit",
            b"x-request-id"} <= names  # fmt: skip
    assert not names & {b"content-length", b"content-type"}  # the bare app's own

    status, headers, body = asyncio.run(answer(headers_only()))
    bare_status, bare_headers, bare_body = asyncio.run(answer(bare()))
    assert (status, body) == (bare_status, bare_body) == (200, bare_body)
    # The same headers in the same order; only the request ID is new on each request.
    random_id = {b"x-request-id"}
    assert [(n, b"" if n in random_id else v) for n, v in headers] == [
        (n, b"" if n in random_id else v) for n, v in bare_headers + added
    ]


def test_every_server_is_measured_and_serves_the_benchmark_apps(inprocess: ModuleType) -> None:
    import httpx
    from bench.apps import HOST, ORIGIN, PRODUCTION_PEER_APP
    from bench.throughput import APPS, PATH, _serve, server_configurations  # importable while the fixture lives

    configurations = server_configurations()
    labels = [label for label, _ in configurations]
    # granian and hypercorn are in the test group, so every row is measured here; uvicorn[standard]
    # (httptools, uvloop) only in the bench group.
    assert labels[-3:] == ["uvicorn: h11, asyncio", "granian: asgi, 1 worker", "hypercorn: h11, asyncio"]
    assert configurations[-3][1][-4:] == ["--http", "h11", "--loop", "asyncio"]
    assert APPS[:2] == ("bare starlette", "bare starlette + the full stack's response headers")
    assert PRODUCTION_PEER_APP in APPS
    for label, prefix in configurations:
        proc, port = _serve(PRODUCTION_PEER_APP, prefix)
        try:
            response = httpx.get(f"http://127.0.0.1:{port}{PATH}", headers={"Host": HOST, "Origin": ORIGIN})
        finally:
            proc.terminate()
            proc.wait(10)
        assert response.status_code == 200, label
        assert response.headers["access-control-allow-origin"] == ORIGIN, label
        assert "x-request-id" in response.headers, label


def test_every_app_of_the_browser_table_answers_a_browser_request(inprocess: ModuleType) -> None:
    rows = inprocess.run(n=3, rounds=1, only=inprocess.BROWSER_APPS, headers=inprocess.BROWSER_HEADERS)

    assert [row for row in rows if "error" in row] == []
    assert [row["app"] for row in rows] == list(inprocess.BROWSER_APPS)
    names = [name for name, _ in inprocess.BROWSER_HEADERS]
    assert b"x-request-id" not in names
    assert len(names) == len(set(names)) == 14
