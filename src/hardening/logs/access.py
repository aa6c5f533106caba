"""The access log: one structured line per request, written when the response has ended.

The line is emitted through the standard library logger ``hardening.access`` with its
fields as ``extra``, so it needs no optional dependency; with
:func:`hardening.logs.configure_logging` the fields become keys of the JSON line.
"""

from __future__ import annotations

import logging
import random
import re
from time import perf_counter
from typing import TYPE_CHECKING, Any, Final

from pydantic import field_validator

from hardening._asgi import REQUEST_ID_STATE_KEY
from hardening._config import LayerConfig
from hardening._context import LayerContext
from hardening._disconnect import CLIENT_CLOSED_REQUEST, is_client_gone
from hardening._paths import QUIET_PROBE_PATHS
from hardening.logs._context import SPAN_ID_STATE_KEY, TRACE_ID_STATE_KEY, parse_traceparent
from hardening.redaction import Redactor, default_redactor

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send


__all__ = ("ACCESS_LOGGER", "AccessLogConfig", "AccessLogMiddleware")

ACCESS_LOGGER: Final = "hardening.access"
"""Name of the standard library logger the access lines are written to."""

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_USER_AGENT: Final = b"user-agent"
_TRACEPARENT: Final = b"traceparent"
_MAX_ROUTES: Final = 4096
_MAX_SHOWN: Final = 1024  # query strings and user agents remembered, each
_MAX_SHOWN_KEY: Final = 512  # longer raw values are never remembered: 1024 of them stay small
_NO_STATE: Final[dict[str, Any]] = {}


def _printable(text: str) -> str:
    """Escape control characters, so a value can never forge or split a log line."""
    if text.isprintable() or _CONTROL.search(text) is None:  # isprintable(): one quick C loop
        return text
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class AccessLogConfig(LayerConfig):
    """The access log: one line per request with timing, sizes, client and IDs."""

    enabled: bool = True
    """Whether this layer is part of the stack."""

    exclude_paths: tuple[str, ...] = QUIET_PROBE_PATHS
    """Exact paths not logged (health probes), except for a sample (see below)."""

    excluded_sample_rate: float = 0.0
    """Fraction (0 to 1) of requests to excluded paths that are logged anyway."""

    slow_request_ms: float | None = None
    """Requests slower than this many milliseconds are logged at WARNING level."""

    max_user_agent_length: int = 256
    """User agents are cut to this many characters."""

    @field_validator("excluded_sample_rate")
    @classmethod
    def _check_rate(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            msg = "must be between 0 and 1"
            raise ValueError(msg)
        return value

    @field_validator("slow_request_ms")
    @classmethod
    def _check_slow(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            msg = "must be a positive number of milliseconds, or unset"
            raise ValueError(msg)
        return value


class AccessLogMiddleware:
    """Pure ASGI middleware writing one access line per HTTP request, at its very end.

    The line is written when the last body chunk was sent, or when the app failed or
    the client went away, with the duration measured on the monotonic clock and the
    request and response bytes counted (not taken from ``Content-Length``). When the
    ``hardening.access`` logger would drop every line (its level is above WARNING, or it
    is disabled), requests pass straight through and cost nothing.

    Args:
        app: The ASGI app to wrap.
        config: The settings of this layer; defaults apply when ``None``.
        context: The stack's shared context: its client resolver gives the address.
    """

    def __init__(self, app: ASGIApp, config: AccessLogConfig | None = None, *, context: LayerContext | None = None):
        self.app = app
        self.config = config = config or AccessLogConfig()
        self._logger = logging.getLogger(ACCESS_LOGGER)
        self._resolver = (context or LayerContext()).resolver
        self._excluded = frozenset(config.exclude_paths)
        self._sample = config.excluded_sample_rate
        self._slow_s = config.slow_request_ms / 1000 if config.slow_request_ms is not None else None
        self._ua_max = config.max_user_agent_length
        self._routes: dict[str, str] = {}
        self._redactor: Redactor = default_redactor()
        # Raw query strings and user agents, with what the line showed for them (the
        # redactor drops them when its secrets change).
        self._queries = self._redactor.memo(max_entries=_MAX_SHOWN, max_key_length=_MAX_SHOWN_KEY)
        self._agents = self._redactor.memo(max_entries=_MAX_SHOWN, max_key_length=_MAX_SHOWN_KEY)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection (other scope types pass through)."""
        if scope["type"] != "http" or not self._logger.isEnabledFor(logging.WARNING):
            await self.app(scope, receive, send)
            return
        if scope.get("path") in self._excluded and (self._sample <= 0 or random.random() >= self._sample):
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        end: float | None = None
        status: int | None = None
        request_bytes = 0
        response_bytes = 0
        disconnected = False
        error: str | None = None

        async def counting_receive() -> Message:
            nonlocal request_bytes, disconnected
            message = await receive()
            kind = message["type"]
            if kind == "http.request":
                request_bytes += len(message.get("body", b""))
            elif kind == "http.disconnect" and end is None:
                disconnected = True
            return message

        async def counting_send(message: Message) -> None:
            nonlocal status, response_bytes, end, disconnected
            kind = message["type"]
            if kind == "http.response.body":
                response_bytes += len(message.get("body", b""))
                if not message.get("more_body", False):
                    end = perf_counter()
            elif kind == "http.response.start":
                status = message["status"]
            try:
                await send(message)
            except OSError:
                disconnected = True
                raise

        try:
            await self.app(scope, counting_receive, counting_send)
        except BaseException as exc:
            error = type(exc).__name__
            if is_client_gone(exc):
                disconnected = True  # the client left: not an error (see below)
            elif status is None and not disconnected:
                status = 500
            raise
        finally:
            if disconnected and status is None:
                status = CLIENT_CLOSED_REQUEST  # nothing was sent: nginx's 499
            duration = (end if end is not None else perf_counter()) - start
            self._emit(scope, status, duration, request_bytes, response_bytes, disconnected, error)

    def _emit(
        self,
        scope: Scope,
        status: int | None,
        duration: float,
        request_bytes: int,
        response_bytes: int,
        disconnected: bool,
        error: str | None,
    ) -> None:
        slow = self._slow_s is not None and duration > self._slow_s
        # A client that went away is logged at INFO whatever status was sent.
        level = logging.WARNING if (status is not None and status >= 500 and not disconnected) or slow else logging.INFO
        logger = self._logger
        if not logger.isEnabledFor(level):
            return
        # What ``logger.log(level, "request", extra=fields)`` does, without looking for
        # the caller's frame (the caller is always this method). The fields go in as
        # ``logging.makeLogRecord`` puts them, by one ``__dict__`` update: none of them is
        # a ``LogRecord`` attribute, so ``makeRecord``'s per-key overwrite check is spared.
        record = logger.makeRecord(ACCESS_LOGGER, level, __file__, 0, "request", (), None, "_emit")
        record.__dict__.update(self.fields(scope, status, duration, request_bytes, response_bytes, disconnected, error))
        logger.handle(record)

    def fields(
        self,
        scope: Scope,
        status: int | None,
        duration: float,
        request_bytes: int,
        response_bytes: int,
        disconnected: bool,
        error: str | None,
    ) -> dict[str, Any]:
        """Return the fields of the access line of one finished request."""
        user_agent = traceparent = None
        for name, value in scope.get("headers", ()):  # one pass for both headers; the first of each counts
            if name == _USER_AGENT:
                if user_agent is None:
                    user_agent = value
            elif name == _TRACEPARENT and traceparent is None:
                traceparent = value
        path = self._redactor.redact_text(scope.get("path", ""))
        if not path.isprintable():
            path = _printable(path)
        query = scope.get("query_string")
        # The same query strings and agents come back: what was shown is reused.
        shown_query = self._queries.get(query, self._show_query) if query else ""
        agent: str | None = self._agents.get(user_agent, self._show_agent) if user_agent else None
        route = getattr(scope.get("route"), "path", None)
        if isinstance(route, str):
            shown = self._routes.get(route)
            if shown is None:
                shown = _printable(route)
                if len(self._routes) < _MAX_ROUTES:
                    self._routes[route] = shown
        else:
            shown = path
        state = scope.get("state") or _NO_STATE
        trace_id = state.get(TRACE_ID_STATE_KEY)
        if trace_id is None and traceparent is not None:
            parsed = parse_traceparent(traceparent)
            if parsed is not None:
                trace_id = parsed[0]
        resolver = self._resolver
        fields: dict[str, Any] = {}
        fields["method"] = scope.get("method")
        fields["route"] = shown
        fields["path"] = path + shown_query if query else path
        fields["status"] = status
        fields["duration_ms"] = int(duration * 1_000_000.0 + 0.5) / 1000  # rounded to microseconds
        fields["request_bytes"] = request_bytes
        fields["response_bytes"] = response_bytes
        fields["client_ip"] = resolver.client_ip(scope)
        fields["user_agent"] = agent
        fields["http_version"] = scope.get("http_version")
        fields["scheme"] = resolver.scheme(scope)
        fields["request_id"] = state.get(REQUEST_ID_STATE_KEY)
        fields["trace_id"] = trace_id
        span_id = state.get(SPAN_ID_STATE_KEY)
        if span_id is not None:
            fields["span_id"] = span_id
        if error is not None:
            fields["error"] = error
        if disconnected:
            fields["disconnected"] = True
        return fields

    def _show_query(self, query: bytes) -> str:
        return "?" + _printable(self._redactor.redact_text("?" + query.decode("latin-1"))[1:])

    def _show_agent(self, user_agent: bytes) -> str:
        return self._redactor.redact_text(_printable(user_agent.decode("latin-1")[: self._ua_max]))
