"""``LoggingConfig`` and ``configure_logging()``: one JSON schema for every log line.

structlog renders everything. The standard library's loggers (uvicorn, gunicorn,
SQLAlchemy, httpx, the access log) are routed through structlog's ``ProcessorFormatter``
on one root handler, so their lines share the schema and the request context. The
redaction policy runs after the exception is turned into data and before the renderer.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TextIO

from pydantic import Field, field_validator

from hardening._config import LayerConfig
from hardening._imports import require
from hardening.logs._context import REQUEST_ID, TRACE_IDS
from hardening.redaction import redactor

if TYPE_CHECKING:
    from collections.abc import Callable, MutableMapping

    from hardening.logs.access import AccessLogConfig

__all__ = ("LoggingConfig", "add_request_context", "configure_logging")

_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_CORE_KEYS: Final = ("timestamp", "level", "logger", "event")
_HANDLER_MARK: Final = "_hardening_handler"
_SERVER_LOGGERS: Final = ("uvicorn", "uvicorn.error", "gunicorn", "gunicorn.error")
_SERVER_ACCESS_LOGGERS: Final = ("uvicorn.access", "gunicorn.access")
_DROPPED_KEYS: Final = ("color_message",)

EventDict = dict[str, Any]


def _check_level(value: str, what: str = "") -> str:
    upper = value.strip().upper()
    if upper == "WARN":
        upper = "WARNING"
    if upper not in _LEVELS:
        msg = f"{what}must be one of {', '.join(_LEVELS)}, got {value!r}"
        raise ValueError(msg)
    return upper


class LoggingConfig(LayerConfig):
    """How :func:`configure_logging` sets up logging. Not a middleware layer."""

    enabled: bool = True
    """Whether :func:`configure_logging` configures anything."""

    level: str = "INFO"
    """Level of the root logger: DEBUG, INFO, WARNING, ERROR or CRITICAL."""

    format: Literal["auto", "json", "console"] = "auto"
    """``json`` (one JSON object per line), ``console`` (readable, for a terminal), or
    ``auto``: ``console`` when ``environment`` is ``development``, ``json`` otherwise."""

    stream: Literal["stdout", "stderr"] = "stdout"
    """Where lines are written (twelve-factor apps log to stdout)."""

    show_locals: bool = False
    """Include every frame's local variables in JSON tracebacks. Off: locals hold secrets."""

    redact_keys: tuple[str, ...] = ()
    """More key names (exact, case-insensitive) whose values are redacted, on top of the
    built-in patterns (password, token, secret, authorization, cookie, ...)."""

    levels: dict[str, str] = Field(default_factory=dict)
    """Per-logger levels, for example ``{"sqlalchemy.engine": "WARNING"}``."""

    @field_validator("level")
    @classmethod
    def _check_root_level(cls, value: str) -> str:
        return _check_level(value)

    @field_validator("levels")
    @classmethod
    def _check_levels(cls, value: dict[str, str]) -> dict[str, str]:
        return {name: _check_level(level, f"the level of logger {name!r} ") for name, level in value.items()}

    def renderer_for(self, environment: str) -> Literal["json", "console"]:
        """Return the renderer used in ``environment`` (resolving ``auto``)."""
        if self.format != "auto":
            return self.format
        return "console" if environment == "development" else "json"


def _current_trace_ids() -> tuple[str, str] | None:
    ids = TRACE_IDS.get()
    if ids is not None:
        return ids
    trace_api = sys.modules.get("opentelemetry.trace")
    if trace_api is None:  # OpenTelemetry not in use: nothing to correlate with
        return None
    context = trace_api.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return trace_api.format_trace_id(context.trace_id), trace_api.format_span_id(context.span_id)


def add_request_context(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """Add ``request_id``, ``trace_id`` and ``span_id`` to a structlog event when known.

    A structlog processor. The trace IDs come from the tracing layer or, when
    OpenTelemetry is in use, from the current span whenever its context is valid (also
    with the API alone, no SDK).
    """
    if "request_id" not in event_dict:
        request_id = REQUEST_ID.get()
        if request_id is not None:
            event_dict["request_id"] = request_id
    if "trace_id" not in event_dict:
        ids = _current_trace_ids()
        if ids is not None:
            event_dict["trace_id"], event_dict["span_id"] = ids
    return event_dict


def _drop_server_noise(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    for key in _DROPPED_KEYS:
        event_dict.pop(key, None)
    return event_dict


def _order_core_keys(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    ordered: EventDict = {key: event_dict.pop(key) for key in _CORE_KEYS if key in event_dict}
    ordered.update(event_dict)
    return ordered


def _redaction_processor(extra_keys: tuple[str, ...]) -> Callable[[Any, str, EventDict], EventDict]:
    redact_value = redactor(extra_keys=extra_keys)

    def redact_event(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
        # The stamp is TimeStamper's own, written after every other field: no secret in it.
        stamp = event_dict.pop("timestamp", None)
        result: EventDict = redact_value(event_dict)
        if stamp is not None:
            result["timestamp"] = stamp
        return result

    return redact_event


def _json_serializer() -> Callable[..., str]:
    try:
        import orjson
    except ImportError:

        def dumps_json(obj: Any, **kwargs: Any) -> str:
            return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, **kwargs)

        return dumps_json

    def dumps_orjson(obj: Any, default: Callable[[Any], Any] | None = None, **_kwargs: Any) -> str:
        return orjson.dumps(obj, default=default, option=orjson.OPT_NON_STR_KEYS).decode()

    return dumps_orjson


class LoggingSettings(Protocol):
    """What :func:`configure_logging` reads (a :class:`hardening.HardeningSettings` is one)."""

    @property
    def environment(self) -> str:
        """The environment."""
        ...  # pragma: no cover - a protocol

    @property
    def logging(self) -> LoggingConfig:
        """The logging set-up."""
        ...  # pragma: no cover - a protocol

    @property
    def access_log(self) -> AccessLogConfig:
        """The access log (quieted uvicorn lines when it is on)."""
        ...  # pragma: no cover - a protocol


def configure_logging(settings: LoggingSettings, *, stream: TextIO | None = None) -> None:
    """Set up structlog and the standard library's logging as one JSON (or console) stream.

    Safe to call more than once: the previous set-up is replaced, never duplicated. Call it
    at import time of your app module (before uvicorn logs its start-up lines, which it
    does after importing the app), or run uvicorn with ``log_config=None``.

    Args:
        settings: The settings (``settings.logging``, ``settings.environment`` and
            ``settings.access_log.enabled`` are used). :func:`hardening.configure_logging`
            loads them from the environment when given none.
        stream: Write here instead of ``settings.logging.stream`` (tests).

    Raises:
        MissingDependencyError: structlog is not installed (``hardening[logging]``).
    """
    config = settings.logging
    if not config.enabled:
        return
    structlog = require("structlog", extra="logging", feature="structured logging")
    renderer_name = config.renderer_for(settings.environment)
    if stream is None:
        stream = sys.stdout if config.stream == "stdout" else sys.stderr

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_request_context,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    ]
    final: list[Any] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta, _drop_server_noise]
    if renderer_name == "json":
        transformer = structlog.tracebacks.ExceptionDictTransformer(show_locals=config.show_locals)
        final += [
            structlog.processors.ExceptionRenderer(transformer),
            _redaction_processor(config.redact_keys),
            _order_core_keys,
            structlog.processors.JSONRenderer(serializer=_json_serializer()),
        ]
    else:
        final += [
            structlog.processors.format_exc_info,
            _redaction_processor(config.redact_keys),
            structlog.dev.ConsoleRenderer(colors=_isatty(stream), exception_formatter=structlog.dev.plain_traceback),
        ]
    formatter = structlog.stdlib.ProcessorFormatter(
        # The stamp last, so "timestamp" is always the stamper's (the redaction skips it).
        foreign_pre_chain=[*shared[:-1], structlog.stdlib.ExtraAdder(), shared[-1]],
        processors=final,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)

    root = logging.getLogger()
    for old in [item for item in root.handlers if getattr(item, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(config.level)
    for name in _SERVER_LOGGERS:
        _route_to_root(logging.getLogger(name), propagate=True)
    for name in _SERVER_ACCESS_LOGGERS:
        # Our access line replaces the server's; with ours off, theirs joins the stream.
        _route_to_root(logging.getLogger(name), propagate=not settings.access_log.enabled)
    for name, level in config.levels.items():
        logging.getLogger(name).setLevel(level)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _route_to_root(logger: logging.Logger, *, propagate: bool) -> None:
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate = propagate
    logger.disabled = False  # dictConfig(disable_existing_loggers=True) may have muted it


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
