"""configure_logging(): one JSON schema for structlog and stdlib lines, redacted, idempotent."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.extras import import_extra

structlog = import_extra("structlog", "hardening[logging]")

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from hardening import HardeningSettings, MissingDependencyError  # noqa: E402
from hardening.checks import run_checks  # noqa: E402
from hardening.logs import (  # noqa: E402
    AccessLogMiddleware,
    LoggingConfig,
    RequestIdMiddleware,
    configure_logging,
)
from hardening.redaction import register_secret  # noqa: E402

pytestmark = pytest.mark.needs_extras

CANARY = "canary-logs-91ab4c"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server_levels = {name: logging.getLogger(name).level for name in ("uvicorn", "uvicorn.error")}
    for name in server_levels:  # servers started in-process by other tests may have raised them
        logging.getLogger(name).setLevel(logging.NOTSET)
    yield
    for name, old_level in server_levels.items():
        logging.getLogger(name).setLevel(old_level)
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def setup(**logging_options: Any) -> io.StringIO:
    stream = io.StringIO()
    settings = HardeningSettings(environment="production", logging=LoggingConfig(**logging_options))
    configure_logging(settings, stream=stream)
    return stream


def test_structlog_and_stdlib_share_one_schema() -> None:
    stream = setup()
    structlog.get_logger("app").info("hello", user="ann")
    logging.getLogger("sqlalchemy.engine").warning("slow query took %s ms", 120)
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 1, extra={"color_message": "x"})
    app_line, sql_line, uvicorn_line = lines(stream)
    for line in (app_line, sql_line, uvicorn_line):
        assert list(line)[:4] == ["timestamp", "level", "logger", "event"]
        assert line["timestamp"].endswith("Z")
    assert app_line["event"] == "hello"
    assert app_line["user"] == "ann"
    assert app_line["logger"] == "app"
    assert sql_line == sql_line | {"level": "warning", "logger": "sqlalchemy.engine", "event": "slow query took 120 ms"}
    assert uvicorn_line["logger"] == "uvicorn.error"
    assert "color_message" not in uvicorn_line


def test_redaction_runs_before_rendering() -> None:
    register_secret(CANARY)
    stream = setup()
    log = structlog.get_logger("app")
    log.info("login", password="hunter2", nested={"api_key": "k", "list": [CANARY]}, note=f"x {CANARY}")
    logging.getLogger("sqlalchemy").info("connect %s", f"postgresql://app:{CANARY}@db/app")
    logging.getLogger("httpx").info("GET https://api/x?token=abc", extra={"authorization": "Bearer t"})
    output = stream.getvalue()
    assert CANARY not in output
    assert "hunter2" not in output
    assert "token=abc" not in output
    assert "Bearer t" not in output
    first = lines(stream)[0]
    assert first["password"] == "[REDACTED]"
    assert first["nested"] == {"api_key": "[REDACTED]", "list": ["[REDACTED]"]}


def test_tracebacks_without_locals_and_redacted() -> None:
    register_secret(CANARY)
    stream = setup()

    def fail() -> None:
        password = CANARY  # a local that must never be logged
        raise RuntimeError(f"could not connect to postgresql://u:{password}@db/app")

    try:
        fail()
    except RuntimeError:
        structlog.get_logger("app").exception("failed")
        logging.getLogger("hardening.errors").exception("unhandled")
    output = stream.getvalue()
    assert CANARY not in output
    structured, stdlib = lines(stream)
    for line in (structured, stdlib):
        [exc] = line["exception"]
        assert exc["exc_type"] == "RuntimeError"
        assert exc["exc_value"] == "could not connect to postgresql://[REDACTED]@db/app"
        assert all("locals" not in frame for frame in exc["frames"])
        assert exc["frames"][-1]["name"] == "fail"


def test_show_locals_can_be_enabled_and_stays_redacted() -> None:
    register_secret(CANARY)
    stream = setup(show_locals=True)
    try:
        secret_value = CANARY
        raise ValueError("x")
    except ValueError:
        logging.getLogger("app").exception("failed", extra={"hint": secret_value})
    [line] = lines(stream)
    assert "locals" in line["exception"][0]["frames"][-1]
    assert CANARY not in stream.getvalue()


def test_idempotent() -> None:
    first = io.StringIO()
    configure_logging(HardeningSettings(), stream=first)
    second = setup()
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_hardening_handler", False)]
    assert len(ours) == 1
    logging.getLogger("x").warning("once")
    assert first.getvalue() == ""
    assert len(lines(second)) == 1


def test_request_context_on_every_line() -> None:
    stream = setup()

    async def endpoint(request: Request) -> PlainTextResponse:
        structlog.get_logger("app").info("async endpoint")
        logging.getLogger("lib").info("stdlib in request")
        return PlainTextResponse("ok")

    def sync_endpoint(request: Request) -> PlainTextResponse:
        structlog.get_logger("app").info("sync endpoint in thread pool")
        return PlainTextResponse("ok")

    app = RequestIdMiddleware(
        AccessLogMiddleware(Starlette(routes=[Route("/a", endpoint), Route("/s", sync_endpoint)]))
    )

    async def run() -> list[str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return [(await http.get(path)).headers["x-request-id"] for path in ("/a", "/s")]

    import anyio

    first_id, second_id = anyio.run(run)
    records = [r for r in lines(stream) if r["logger"] != "httpx"]  # the test client's own lines
    assert [(r["event"], r["request_id"]) for r in records] == [
        ("async endpoint", first_id),
        ("stdlib in request", first_id),
        ("request", first_id),
        ("sync endpoint in thread pool", second_id),
        ("request", second_id),
    ]
    access = records[2]
    assert access["logger"] == "hardening.access"
    assert access["status"] == 200
    assert access["route"] == "/a"


def test_trace_ids_with_the_api_only() -> None:
    trace = import_extra("opentelemetry.trace", "hardening[otel]")
    from opentelemetry import context, propagate

    stream = setup()
    parent = propagate.extract({"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
    token = context.attach(parent)
    try:
        assert not trace.get_current_span().is_recording()
        structlog.get_logger("app").info("inside")
    finally:
        context.detach(token)
    structlog.get_logger("app").info("outside")
    inside, outside = lines(stream)
    assert inside["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert inside["span_id"] == "00f067aa0ba902b7"
    assert "trace_id" not in outside


def test_console_in_development_and_levels() -> None:
    stream = io.StringIO()
    settings = HardeningSettings(
        environment="development", logging=LoggingConfig(level="debug", levels={"noisy": "error"})
    )
    configure_logging(settings, stream=stream)
    structlog.get_logger("app").debug("visible", password="pw")
    logging.getLogger("noisy").warning("hidden")
    output = stream.getvalue()
    assert "visible" in output
    assert "password=[REDACTED]" in output.replace("'", "")
    assert "hidden" not in output
    assert not output.lstrip().startswith("{")


def test_uvicorn_access_logger_is_silenced_only_when_ours_is_on() -> None:
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.addHandler(logging.StreamHandler(io.StringIO()))
    setup()
    assert not uvicorn_access.hasHandlers()  # uvicorn then skips its own access line
    settings = HardeningSettings(access_log={"enabled": False})
    configure_logging(settings, stream=io.StringIO())
    assert uvicorn_access.hasHandlers()
    assert uvicorn_access.propagate


def test_disabled_does_nothing() -> None:
    before = list(logging.getLogger().handlers)
    configure_logging(HardeningSettings(logging=LoggingConfig(enabled=False)))
    assert logging.getLogger().handlers == before


def test_missing_structlog_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "structlog", None)
    with pytest.raises(MissingDependencyError, match=r"hardening\[logging\]"):
        configure_logging(HardeningSettings(), stream=io.StringIO())


def test_config_validation() -> None:
    assert LoggingConfig(level="warn").level == "WARNING"
    with pytest.raises(ValueError, match=r"(?s)^(?!.*HARDENING_).*\blevel\b"):
        LoggingConfig(level="LOUD")
    with pytest.raises(ValueError, match=r"(?s)^(?!.*HARDENING_).*\blevels\b"):
        LoggingConfig(levels={"x": "nope"})
    assert LoggingConfig().renderer_for("development") == "console"
    assert LoggingConfig().renderer_for("production") == "json"
    assert LoggingConfig(format="json").renderer_for("development") == "json"


def test_production_rules() -> None:
    bad = HardeningSettings(
        environment="production",
        logging=LoggingConfig(format="console", show_locals=True, level="DEBUG"),
        request_id={"enabled": False},
        access_log={"enabled": False},
    )
    ids = {finding.id for finding in run_checks(bad)}
    assert {
        "HARDENING-LOG-001",
        "HARDENING-LOG-002",
        "HARDENING-LOG-003",
        "HARDENING-LOG-004",
        "HARDENING-LOG-005",
    } <= ids
    good = {f.id for f in run_checks(HardeningSettings(environment="production"))}
    assert not {i for i in good if i.startswith("HARDENING-LOG")}
    assert not {
        f.id
        for f in run_checks(HardeningSettings(environment="development", request_id={"enabled": False}))
        if f.id.startswith("HARDENING-LOG")
    }


def test_request_id_layer_binds_structlog_context_for_the_request_only() -> None:
    """With structlog imported, the ID is in its context variables; stale bindings are cleared."""
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(structlog.contextvars.get_contextvars())
        await PlainTextResponse("ok")(scope, receive, send)

    async def run() -> str:
        transport = httpx.ASGITransport(app=RequestIdMiddleware(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return (await http.get("/")).headers["x-request-id"]

    import anyio

    structlog.contextvars.bind_contextvars(user="stale")
    try:
        request_id = anyio.run(run)
        assert structlog.contextvars.get_contextvars() == {"user": "stale"}
    finally:
        structlog.contextvars.clear_contextvars()
    assert seen == [{"request_id": request_id}]


def test_timestamps_are_iso_utc_like_structlogs_and_records_stay_untouched() -> None:
    """The timestamp reads as structlog's ISO UTC stamp; other handlers see the record as logged."""
    import datetime

    stream = setup()
    kept: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    other = Keep()
    logging.getLogger().addHandler(other)
    try:
        before = datetime.datetime.now(tz=datetime.timezone.utc)
        logging.getLogger("lib").error("failed %s", "twice", exc_info=ValueError("x"), extra={"n": 1})
        after = datetime.datetime.now(tz=datetime.timezone.utc)
    finally:
        logging.getLogger().removeHandler(other)
    [line] = lines(stream)
    stamp = line["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", stamp)
    moment = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert before - datetime.timedelta(milliseconds=1) <= moment <= after + datetime.timedelta(milliseconds=1)
    assert line["event"] == "failed twice"
    assert line["n"] == 1
    assert "exception" in line
    [record] = kept
    assert (record.msg, record.args, record.exc_info is not None) == ("failed %s", ("twice",), True)


@pytest.mark.parametrize("orjson_installed", [True, False])
def test_json_lines_are_the_same_with_or_without_orjson(
    monkeypatch: pytest.MonkeyPatch, orjson_installed: bool
) -> None:
    """orjson is only the fast path of structlog's JSONRenderer: the lines read the same without it."""
    if orjson_installed:
        pytest.importorskip("orjson")  # in the test group: present in CI
    else:
        monkeypatch.setitem(sys.modules, "orjson", None)  # import orjson -> ImportError
    stream = setup()
    logging.getLogger("lib").info("héllo %s", "wörld", extra={"n": 1, "when": re, "keys": {1: "one"}})
    [line] = lines(stream)
    assert line["event"] == "héllo wörld"
    assert line["n"] == 1
    assert line["keys"] == {"1": "one"}
    assert isinstance(line["when"], str)  # not serializable: its repr, through structlog's fallback
    assert "\\u" not in stream.getvalue()  # UTF-8 text, not ASCII escapes


def test_the_timestamp_is_always_the_stampers_own() -> None:
    """A ``timestamp`` passed by the caller never replaces the stamp (the redaction relies on it)."""
    stream = setup()
    logging.getLogger("lib").warning("x", extra={"timestamp": CANARY})
    structlog.get_logger("app").warning("y", timestamp=CANARY)
    structlog.contextvars.bind_contextvars(timestamp=CANARY)
    try:
        structlog.get_logger("app").warning("z")
    finally:
        structlog.contextvars.clear_contextvars()
    assert CANARY not in stream.getvalue()
    for line in lines(stream):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", line["timestamp"])
