"""A client that goes away is not an error: no ERROR line, no Sentry event, one INFO access line.

The dropped-upload case runs under a REAL uvicorn (a client sends part of a body and
closes its socket); the other two cases (the server's ``send`` raising ``OSError``, an
``http.disconnect`` before any response) run in process against the full stack.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.extras import import_extra

sentry_sdk = import_extra("sentry_sdk", "hardening[sentry]")
import_extra("opentelemetry.sdk", "opentelemetry-sdk, from the test dependency group")

from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import ClientDisconnect, Request  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402
from starlette.types import Message, Receive, Scope, Send  # noqa: E402

from hardening import HardeningSettings, harden  # noqa: E402
from hardening.errorguard import ErrorGuardMiddleware  # noqa: E402
from hardening.logs import AccessLogMiddleware  # noqa: E402
from hardening.monitoring import TracingMiddleware, init_sentry  # noqa: E402
from tests.sentry_capture import CaptureTransport, capture  # noqa: E402
from tests.uvicorn_server import ThreadServer  # noqa: E402

pytestmark = pytest.mark.needs_extras

DSN = "https://publickey@o0.ingest.sentry.io/42"
UPLOADS = 50


@pytest.fixture
def transport() -> Iterator[CaptureTransport]:
    yield from capture()


class Records(logging.Handler):
    """Every record of the loggers it is attached to."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if all(record is not seen for seen in self.records):  # seen through two loggers
            self.records.append(record)

    def errors(self) -> list[logging.LogRecord]:
        return [record for record in self.records if record.levelno >= logging.ERROR]

    def access(self) -> list[logging.LogRecord]:
        return [record for record in self.records if record.name == "hardening.access"]


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    watched = [logging.getLogger(), logging.getLogger("uvicorn"), logging.getLogger("hardening.access")]
    logging.getLogger("hardening.access").setLevel(logging.INFO)
    for logger in watched:
        logger.addHandler(handler)
    yield handler
    for logger in watched:
        logger.removeHandler(handler)


async def upload(request: Request) -> PlainTextResponse:
    body = await request.body()
    return PlainTextResponse(f"{len(body)} bytes")


def settings() -> HardeningSettings:
    return HardeningSettings(
        environment="production",
        hosts={"allowed_hosts": ["127.0.0.1", "testserver"]},
        sentry={"dsn": DSN, "traces_sample_rate": 1.0},
        body_limit={"max_bytes": 1_000_000},
    )


def drop_upload(port: int) -> None:
    """Send the headers and 1 KiB of a 100 kB upload, then close the socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: 100000\r\n\r\n" + b"x" * 1024
        )
        time.sleep(0.005)


def test_dropped_uploads_under_uvicorn_are_not_errors(transport: CaptureTransport, records: Records) -> None:
    config = settings()
    assert init_sentry(config, transport=transport)
    app = harden(Starlette(routes=[Route("/upload", upload, methods=["POST"])]), config)
    with ThreadServer(app) as server:
        for _ in range(UPLOADS):
            drop_upload(server.port)
        deadline = time.monotonic() + 10
        while len(records.access()) < UPLOADS and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)  # anything logged late (uvicorn, Sentry) is seen too
    events = transport.events()
    errors = records.errors()
    lines = records.access()
    print(f"\n{UPLOADS} dropped uploads: {len(events)} Sentry events, {len(errors)} ERROR lines, {len(lines)} lines")
    assert [event.get("exception") for event in events] == []
    assert [record.getMessage() for record in errors] == []
    assert len(lines) == UPLOADS  # once each
    for line in lines:
        assert line.levelno == logging.INFO
        assert getattr(line, "disconnected", False) is True
        assert getattr(line, "status", None) == 499
        assert getattr(line, "request_bytes", 0) >= 1024


def _stack(tracer_provider: TracerProvider, meter_provider: MeterProvider, app: Any) -> Any:
    """Access log, error guard and tracing around ``app``, the order harden() uses."""
    traced = TracingMiddleware(app, tracer_provider=tracer_provider, meter_provider=meter_provider)
    return AccessLogMiddleware(ErrorGuardMiddleware(traced))


@pytest.fixture
def otel() -> Iterator[tuple[TracerProvider, MeterProvider, InMemoryMetricReader, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield tracer_provider, meter_provider, reader, exporter
    tracer_provider.shutdown()
    meter_provider.shutdown()


def _duration_points(reader: InMemoryMetricReader) -> list[dict[str, Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    points: list[dict[str, Any]] = []
    for resource in data.resource_metrics:
        for scope_metrics in resource.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == "http.server.request.duration":
                    points.extend(dict(point.attributes or {}) for point in metric.data.data_points)
    return points


SCOPE: Scope = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/upload",
    "raw_path": b"/upload",
    "query_string": b"",
    "headers": [(b"host", b"testserver"), (b"content-length", b"10")],
    "client": ("127.0.0.1", 5000),
    "server": ("127.0.0.1", 80),
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", ["client-disconnect", "disconnect-before-response", "send-oserror"])
async def test_disconnects_in_process(
    case: str, transport: CaptureTransport, records: Records, otel: tuple[Any, Any, InMemoryMetricReader, Any]
) -> None:
    tracer_provider, meter_provider, reader, exporter = otel
    assert init_sentry(settings(), transport=transport)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if case == "client-disconnect":
            assert message["type"] == "http.disconnect"
            raise ClientDisconnect
        if case == "disconnect-before-response":
            return  # the app saw http.disconnect and gave up without answering
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"late"})

    async def receive() -> Message:
        if case == "send-oserror":
            return {"type": "http.request", "body": b"0123456789"}
        return {"type": "http.disconnect"}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        if case == "send-oserror" and message["type"] == "http.response.body":
            raise OSError("connection reset by peer")
        sent.append(message)

    await _stack(tracer_provider, meter_provider, app)(dict(SCOPE), receive, send)

    assert [event.get("exception") for event in transport.events()] == []
    assert [record.getMessage() for record in records.errors()] == []
    [line] = records.access()
    assert line.levelno == logging.INFO
    assert getattr(line, "disconnected", False) is True
    expected = 200 if case == "send-oserror" else 499
    assert getattr(line, "status", None) == expected
    assert getattr(line, "error", None) is None
    assert [message["status"] for message in sent if message["type"] == "http.response.start"] == (
        [200] if case == "send-oserror" else []
    )
    # metrics: counted with the status sent (or 499), never as a 5xx or an error
    [point] = _duration_points(reader)
    assert point["http.response.status_code"] == expected
    assert "error.type" not in point
    [span] = exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == expected
    assert span.status.is_unset


def test_an_app_oserror_is_still_an_error() -> None:
    """Only an OSError from the server's send is a disconnect; the app's own stays an error."""
    from hardening._disconnect import is_client_gone

    assert not is_client_gone(OSError("connection refused by the database"))
    assert is_client_gone(ClientDisconnect())
