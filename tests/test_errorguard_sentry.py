"""The error guard reports unhandled exceptions to Sentry once, and only when asked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.extras import import_extra

import_extra("sentry_sdk", "hardening[sentry]")

import sentry_sdk  # noqa: E402
from sentry_sdk.envelope import Envelope  # noqa: E402
from sentry_sdk.transport import Transport  # noqa: E402
from starlette.exceptions import HTTPException  # noqa: E402
from starlette.types import Receive, Scope, Send  # noqa: E402

from hardening.errorguard import ErrorGuardConfig, ErrorGuardMiddleware  # noqa: E402

pytestmark = pytest.mark.needs_extras


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


class _CaptureTransport(Transport):
    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)


@pytest.fixture
def sentry_transport() -> Iterator[_CaptureTransport]:
    """Initialise Sentry with an in-memory transport, and shut it down afterwards."""
    transport = _CaptureTransport()
    sentry_sdk.init(dsn="https://public@sentry.example.invalid/1", transport=transport, default_integrations=False)
    try:
        yield transport
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)


def _sentry_errors(transport: _CaptureTransport) -> list[Any]:
    sentry_sdk.flush()
    return [event for event in (e.get_event() for e in transport.envelopes) if event is not None]


@pytest.mark.anyio
async def test_reported_to_sentry_once(sentry_transport: _CaptureTransport) -> None:
    """An initialised Sentry SDK gets the exception exactly once; a 4xx is not reported."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/missing":
            raise HTTPException(404)
        raise RuntimeError("reported")

    async with _client(ErrorGuardMiddleware(app)) as client:
        assert (await client.get("/")).status_code == 500
        assert (await client.get("/missing")).status_code == 404
    errors = _sentry_errors(sentry_transport)
    assert len(errors) == 1
    assert errors[0]["exception"]["values"][-1]["type"] == "RuntimeError"


@pytest.mark.anyio
async def test_sentry_not_reported_when_disabled_in_config(sentry_transport: _CaptureTransport) -> None:
    """``report_to_sentry=False`` keeps the guard from reporting."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("not reported")

    async with _client(ErrorGuardMiddleware(app, ErrorGuardConfig(report_to_sentry=False))) as client:
        assert (await client.get("/")).status_code == 500
    assert _sentry_errors(sentry_transport) == []
