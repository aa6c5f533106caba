"""The access log: one line per request at its end, with counted bytes and redacted query.

Runs without any extra: the line goes through the standard library's logging.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from hardening import HardeningSettings, LayerContext, build_layer
from hardening.clientip import ProxyConfig
from hardening.logs import (
    ACCESS_LOGGER,
    AccessLogConfig,
    AccessLogMiddleware,
    RequestIdMiddleware,
)
from hardening.redaction import default_redactor, register_secret

CANARY = "canary-access-5d1c"


async def item(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"size": len(body)})


async def stream(request: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            await asyncio.sleep(0.05)
            yield b"x" * 1000

    return StreamingResponse(chunks())


async def boom(request: Request) -> PlainTextResponse:
    raise RuntimeError("boom")


async def healthz(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


APP = Starlette(
    routes=[
        Route("/items/{item_id}", item),
        Route("/echo", echo, methods=["POST"]),
        Route("/stream", stream),
        Route("/boom", boom),
        Route("/healthz", healthz),
    ]
)


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> list[dict[str, Any]]:
        keys = [
            "method",
            "route",
            "path",
            "status",
            "duration_ms",
            "request_bytes",
            "response_bytes",
            "client_ip",
            "user_agent",
            "http_version",
            "scheme",
            "request_id",
            "trace_id",
            "span_id",
            "error",
            "disconnected",
        ]
        return [{k: getattr(r, k) for k in keys if hasattr(r, k)} | {"level": r.levelname} for r in self.records]


@pytest.fixture
def access() -> Iterator[Capture]:
    handler = Capture()
    logger = logging.getLogger(ACCESS_LOGGER)
    old = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old)


def client(app: Any, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, **kwargs), base_url="http://testserver")


@pytest.mark.anyio
async def test_one_line_with_all_fields(access: Capture) -> None:
    register_secret(CANARY)
    app = RequestIdMiddleware(AccessLogMiddleware(APP))
    async with client(app) as http:
        response = await http.get(
            f"/items/42?page=2&token=abc&q={CANARY}",
            headers={
                "user-agent": "probe/1.0",
                "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            },
        )
    [line] = access.lines()
    assert line["method"] == "GET"
    assert line["route"] == "/items/{item_id}"
    assert line["path"] == "/items/42?page=2&token=[REDACTED]&q=[REDACTED]"
    assert line["status"] == 200
    assert line["response_bytes"] == 5
    assert line["request_bytes"] == 0
    assert line["client_ip"] == "127.0.0.1"
    assert line["user_agent"] == "probe/1.0"
    assert line["http_version"] == "1.1"
    assert line["scheme"] == "http"
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["duration_ms"] >= 0
    assert line["level"] == "INFO"
    assert CANARY not in repr(access.records[0].__dict__)


@pytest.mark.anyio
async def test_bytes_are_counted_and_route_falls_back_to_path(access: Capture) -> None:
    async with client(AccessLogMiddleware(APP)) as http:
        await http.post("/echo", content=b"a" * 3000)
        await http.get("/nowhere")
    echo_line, missing = access.lines()
    assert echo_line["request_bytes"] == 3000
    assert echo_line["response_bytes"] == len(b'{"size":3000}')
    assert missing["status"] == 404
    assert missing["route"] == "/nowhere"


@pytest.mark.anyio
async def test_streaming_duration_covers_the_last_chunk(access: Capture) -> None:
    async with client(AccessLogMiddleware(APP)) as http:
        response = await http.get("/stream")
    assert len(response.content) == 3000
    [line] = access.lines()
    assert line["response_bytes"] == 3000
    assert line["duration_ms"] >= 150  # three chunks 50 ms apart: measured to the last one


@pytest.mark.anyio
async def test_exception_is_logged_as_500_and_reraised(access: Capture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("nope")

    async with client(AccessLogMiddleware(app), raise_app_exceptions=False) as http:
        await http.get("/x")
    [line] = access.lines()
    assert line["status"] == 500
    assert line["error"] == "ValueError"
    assert line["level"] == "WARNING"


@pytest.mark.anyio
async def test_starlette_500(access: Capture) -> None:
    async with client(AccessLogMiddleware(APP), raise_app_exceptions=False) as http:
        await http.get("/boom")
    [line] = access.lines()
    assert line["status"] == 500
    assert line["error"] == "RuntimeError"


@pytest.mark.anyio
async def test_client_disconnect(access: Capture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "http.disconnect"

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        raise AssertionError("nothing is sent")

    scope: Scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b"", "client": None}
    await AccessLogMiddleware(app)(scope, receive, send)
    [line] = access.lines()
    assert line["disconnected"] is True
    assert line["status"] == 499  # nothing was sent (nginx's "client closed request")
    assert line["client_ip"] is None


@pytest.mark.anyio
async def test_send_failure_marks_disconnect(access: Capture) -> None:
    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        raise OSError("connection reset")

    scope: Scope = {"type": "http", "method": "GET", "path": "/items/1", "headers": [], "query_string": b""}
    with pytest.raises(OSError, match="reset"):
        await AccessLogMiddleware(APP)(scope, receive, send)
    [line] = access.lines()
    assert line["disconnected"] is True
    assert line["error"] == "OSError"


@pytest.mark.anyio
async def test_health_probes_excluded_or_sampled(access: Capture) -> None:
    async with client(AccessLogMiddleware(APP)) as http:
        await http.get("/healthz")
    assert access.records == []
    sampled = AccessLogMiddleware(APP, AccessLogConfig(excluded_sample_rate=1.0))
    async with client(sampled) as http:
        await http.get("/healthz")
    assert len(access.records) == 1


@pytest.mark.anyio
async def test_proxy_aware_client_ip(access: Capture) -> None:
    app = AccessLogMiddleware(APP, context=LayerContext(proxy=ProxyConfig(trusted_proxies=("10.0.0.0/8",))))
    async with client(app, client=("10.1.2.3", 5555)) as http:
        await http.get("/items/1", headers={"x-forwarded-for": "198.51.100.7, 10.0.0.1"})
    async with client(app, client=("203.0.113.5", 5555)) as http:
        await http.get("/items/1", headers={"x-forwarded-for": "198.51.100.7"})
    trusted, untrusted = access.lines()
    assert trusted["client_ip"] == "198.51.100.7"
    assert untrusted["client_ip"] == "203.0.113.5"


@pytest.mark.anyio
async def test_slow_requests_warn_and_control_chars_escaped(access: Capture) -> None:
    app = AccessLogMiddleware(APP, AccessLogConfig(slow_request_ms=10))
    async with client(app) as http:
        await http.get("/stream", headers=[(b"user-agent", b"evil\x7f agent")])
    [line] = access.lines()
    assert line["level"] == "WARNING"
    assert line["user_agent"] == "evil\\x7f agent"


@pytest.mark.anyio
async def test_non_http_passes_through(access: Capture) -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    await AccessLogMiddleware(app)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]
    assert access.records == []


@pytest.mark.anyio
async def test_nothing_logged_when_level_is_off(access: Capture) -> None:
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.ERROR)
    async with client(AccessLogMiddleware(APP)) as http:
        await http.get("/items/1")
    assert access.records == []


def test_config() -> None:
    assert AccessLogConfig().enabled
    assert build_layer(APP, AccessLogConfig(enabled=False)) is APP
    assert isinstance(build_layer(APP, AccessLogConfig(), LayerContext.of(HardeningSettings())), AccessLogMiddleware)
    with pytest.raises(ValueError, match=r"(?s)^(?!.*HARDENING_).*\bexcluded_sample_rate\b"):
        AccessLogConfig(excluded_sample_rate=2)
    with pytest.raises(ValueError, match=r"(?s)^(?!.*HARDENING_).*\bslow_request_ms\b"):
        AccessLogConfig(slow_request_ms=0)


@pytest.mark.anyio
async def test_a_custom_record_factory_and_logger_class_still_build_the_line(access: Capture) -> None:
    """The fast record path steps aside for a custom factory (OTel log correlation installs one)."""
    stock_factory = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = stock_factory(*args, **kwargs)
        record.otelTraceID = "0" * 32
        return record

    app = AccessLogMiddleware(APP)
    logging.setLogRecordFactory(factory)
    try:
        async with client(app) as http:
            await http.get("/items/1")
    finally:
        logging.setLogRecordFactory(stock_factory)
    [record] = access.records
    assert getattr(record, "otelTraceID", None) == "0" * 32
    assert getattr(record, "status", None) == 200

    class Tagging(logging.Logger):
        def makeRecord(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
            record = super().makeRecord(*args, **kwargs)
            record.tagged = True
            return record

    access.records.clear()
    app._logger = Tagging(ACCESS_LOGGER)
    app._logger.addHandler(access)
    async with client(app) as http:
        await http.get("/items/2")
    [record] = access.records
    assert getattr(record, "tagged", False) is True
    assert getattr(record, "route", None) == "/items/{item_id}"


@pytest.mark.anyio
async def test_repeated_queries_and_agents_show_the_same_and_follow_new_secrets(access: Capture) -> None:
    """Query strings and user agents are remembered per middleware; a secret registered later
    still masks them on the next line (the redactor's memo is dropped when its secrets change)."""
    late_secret = "late-secret-9f27c1"
    app = AccessLogMiddleware(APP)
    query = f"/items/1?q={late_secret}&page=2"
    agent = {"user-agent": f"probe/2.0 ({late_secret})"}
    async with client(app) as http:
        await http.get(query, headers=agent)
        await http.get(query, headers=agent)  # served from what the first line showed
        register_secret(late_secret)
        await http.get(query, headers=agent)
        await http.get("/items/1?token=abc", headers={"user-agent": "evil\x7f agent"})
        await http.get("/items/1?token=abc", headers={"user-agent": "evil\x7f agent"})
    first, second, after, masked, masked_again = access.lines()
    assert first["path"] == second["path"] == f"/items/1?q={late_secret}&page=2"
    assert first["user_agent"] == second["user_agent"] == f"probe/2.0 ({late_secret})"
    assert after["path"] == "/items/1?q=[REDACTED]&page=2"
    assert after["user_agent"] == "probe/2.0 ([REDACTED])"
    assert late_secret not in repr(access.records[2].__dict__)
    # A masked value is shown masked each time; an escaped one escaped.
    assert masked["path"] == masked_again["path"] == "/items/1?token=[REDACTED]"
    assert masked["user_agent"] == masked_again["user_agent"] == "evil\\x7f agent"


@pytest.mark.anyio
async def test_long_raw_values_are_never_remembered(access: Capture) -> None:
    """A client cannot fill the memo with huge keys: only short raw values are kept."""
    from hardening.logs import access as module

    app = AccessLogMiddleware(APP)
    huge_agent = "a" * (module._MAX_SHOWN_KEY + 1)
    async with client(app) as http:
        await http.get("/items/1?page=1", headers={"user-agent": huge_agent})
        await http.get("/items/1?page=1", headers={"user-agent": "probe/3.0"})
    assert app._agents.keys() == [b"probe/3.0"]
    assert app._queries.keys() == [b"page=1"]
    assert access.lines()[0]["user_agent"] == huge_agent[:256]


def test_remembered_values_are_bounded() -> None:
    memo = default_redactor().memo(max_entries=16, max_key_length=8)
    for number in range(16 + 10):
        assert memo.get(str(number).encode(), int) == number
    assert len(memo) <= 16
    assert memo.get(b"25", lambda _key: -1) == 25  # remembered
    register_secret("late-secret-for-the-memo")
    assert memo.get(b"25", lambda _key: -1) == -1  # the secrets changed: derived again


def test_no_field_overwrites_a_log_record_attribute() -> None:
    """The fields are set on the record by one ``__dict__`` update (as ``logging.makeLogRecord``
    does), so none may be an attribute the record already has, nor ``message``/``asctime``,
    which formatters write: with every optional field present, the names stay apart."""
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/items/1",
        "query_string": b"q=1",
        "headers": [(b"user-agent", b"probe/1.0")],
        "client": ("203.0.113.7", 1234),
        "http_version": "1.1",
        "scheme": "https",
        "state": {"request_id": "r", "trace_id": "t" * 32, "span_id": "s" * 16},
    }
    fields = AccessLogMiddleware(APP).fields(scope, 500, 0.01, 1, 2, True, "RuntimeError")
    assert {"error", "disconnected", "span_id", "trace_id", "request_id"} <= set(fields)
    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 0, "request", (), None, "f")
    assert not set(fields) & (set(record.__dict__) | {"message", "asctime", "taskName"})
