"""Request IDs: keep a valid incoming ``X-Request-ID``, or make one; echo it on every response.

The ID lives in a context variable for exactly the duration of the request (it is set
at the start and always reset at the end, so pipelined requests on one connection never
share an ID), in ``scope["state"]["request_id"]`` (``request.state.request_id``), in
structlog's context variables once structlog is imported, and in the response header,
500s included.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import field_validator

from hardening._asgi import REQUEST_ID_STATE_KEY, set_header
from hardening._config import LayerConfig
from hardening._context import LayerContext
from hardening.logs._context import REQUEST_ID
from hardening.problems import Problem, send_problem

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ("RequestIdConfig", "RequestIdMiddleware", "generate_request_id")

IdFormat = Literal["uuid", "ulid", "hex", "token"]
"""Accepted shapes of an incoming request ID."""

_FORMATS: Final[dict[str, str]] = {
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "ulid": r"[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}",
    "hex": r"(?!0+$)[0-9a-fA-F]{16,64}",
    "token": r"[A-Za-z0-9][A-Za-z0-9._:=+/\-]*",
}
_HEADER_NAME: Final = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~\-]+")
_log = logging.getLogger("hardening.request_id")
_ID_SCOPES: Final = frozenset({"http", "websocket"})
_FIRST_MESSAGES: Final = frozenset({"http.response.start", "websocket.accept"})


def generate_request_id() -> str:
    """Return a new request ID: 32 random lower-case hex digits (128 bits).

    The same shape as nginx's ``$request_id`` and a W3C trace ID, so it is accepted
    again when it comes back through another service.
    """
    return os.urandom(16).hex()


class RequestIdConfig(LayerConfig):
    """Request IDs: the outermost layer, so every response and log line carries one."""

    enabled: bool = True
    """Whether this layer is part of the stack."""

    header_name: str = "X-Request-ID"
    """The request and response header carrying the ID."""

    accept: tuple[IdFormat, ...] = ("uuid", "ulid", "hex")
    """Shapes of incoming IDs that are kept: ``uuid`` (with dashes), ``ulid``, ``hex``
    (16 to 64 hex digits: UUIDs without dashes, nginx ``$request_id``, W3C trace IDs)
    and ``token`` (letters, digits and ``._:=+/-``). Anything else is replaced."""

    pattern: str | None = None
    """An extra regular expression (full match) for incoming IDs to keep."""

    max_length: int = 128
    """Incoming IDs longer than this are replaced (8 to 1024)."""

    trust_incoming: bool = True
    """Keep valid incoming IDs at all. ``False`` always generates a new one."""

    trusted_sources_only: bool = False
    """Keep incoming IDs only from a trusted proxy (``proxy.trusted_proxies``, as the client
    resolver decides it: ``"unix"`` trusts a UNIX-socket peer)."""

    response_header: bool = True
    """Send the ID back in the response header (and on WebSocket accepts)."""

    update_request_header: bool = True
    """Replace a missing or invalid request header, so the app sees the ID it logs."""

    log_rejected: bool = True
    """Log a warning (without the rejected value) when an incoming ID is replaced."""

    clear_log_context: bool = True
    """Clear structlog's context variables when a request starts, so nothing bound by a
    previous request on the same connection can leak into this one."""

    @field_validator("header_name")
    @classmethod
    def _check_header(cls, value: str) -> str:
        if not _HEADER_NAME.fullmatch(value):
            msg = "must be an HTTP header name made of letters, digits and '-', for example 'X-Request-ID'"
            raise ValueError(msg)
        return value

    @field_validator("pattern")
    @classmethod
    def _check_pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                msg = f"must be a valid regular expression ({exc.msg}); fix it or leave it unset"
                raise ValueError(msg) from None
        return value

    @field_validator("max_length")
    @classmethod
    def _check_length(cls, value: int) -> int:
        if not 8 <= value <= 1024:
            msg = "must be between 8 and 1024"
            raise ValueError(msg)
        return value

    def build(self, app: ASGIApp, context: LayerContext | None = None) -> ASGIApp:
        """Return ``app`` wrapped in :class:`RequestIdMiddleware`, or ``app`` when disabled."""
        return RequestIdMiddleware(app, self, context=context) if self.enabled else app


class RequestIdMiddleware:
    """Pure ASGI middleware assigning every HTTP and WebSocket request an ID.

    Args:
        app: The ASGI app to wrap.
        config: The settings of this layer; defaults apply when ``None``.
        context: The stack's shared context; its client resolver decides whether the
            peer is a trusted proxy (``trusted_sources_only``).
    """

    def __init__(self, app: ASGIApp, config: RequestIdConfig | None = None, *, context: LayerContext | None = None):
        self.app = app
        self.config = config = config or RequestIdConfig()
        self._header = config.header_name.lower().encode("latin-1")
        self._header_text = config.header_name
        alternatives = [_FORMATS[name] for name in config.accept]
        if config.pattern is not None:
            alternatives.append(f"(?:{config.pattern})")
        self._valid = re.compile("|".join(f"(?:{item})" for item in alternatives)) if alternatives else None
        self._accept_incoming = config.trust_incoming and self._valid is not None
        self._fullmatch = self._valid.fullmatch if self._valid is not None else None
        self._max_length = config.max_length
        resolver = (context or LayerContext()).resolver
        self._peer_trusted = resolver.peer_trusted if config.trusted_sources_only else None
        self._update_request_header = config.update_request_header
        self._echo = config.response_header
        self._clear_log_context = config.clear_log_context

    def _incoming(self, scope: Scope) -> tuple[str | None, int | None]:
        """Return ``(kept ID, length of a rejected value)``."""
        if not self._accept_incoming:
            return None, None
        name = self._header
        raw: bytes | None = None
        for key, value in scope.get("headers", ()):
            if key == name:
                raw = value
                break
        if raw is None:
            return None, None
        if self._peer_trusted is not None and not self._peer_trusted(scope):
            return None, None
        if len(raw) <= self._max_length and self._fullmatch is not None:
            text = raw.decode("latin-1")
            if self._fullmatch(text):
                return text, None
        return None, len(raw)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection (other scope types pass through)."""
        kind = scope["type"]
        if kind not in _ID_SCOPES:
            await self.app(scope, receive, send)
            return
        request_id, rejected_length = self._incoming(scope)
        if request_id is None:
            request_id = generate_request_id()
            if self._update_request_header:
                name = self._header
                current = scope.get("headers", ())
                if rejected_length is None and self._accept_incoming and self._peer_trusted is None:
                    # _incoming() looked and found no such header (the usual request): append.
                    scope["headers"] = [*current, (name, request_id.encode("latin-1"))]
                else:
                    headers = [item for item in current if item[0] != name]
                    headers.append((name, request_id.encode("latin-1")))
                    scope["headers"] = headers
        state = scope.get("state")
        if state is None:
            scope["state"] = state = {}
        state[REQUEST_ID_STATE_KEY] = request_id
        token = REQUEST_ID.set(request_id)
        # Nothing can read structlog's context before structlog is imported, so until then a
        # request binds nothing (and costs nothing) there.
        structlog_vars = sys.modules.get("structlog.contextvars")
        log_tokens: dict[str, Any] | None = None
        if structlog_vars is not None:
            if self._clear_log_context:
                structlog_vars.clear_contextvars()
            log_tokens = structlog_vars.bind_contextvars(request_id=request_id)
        value = request_id.encode("latin-1")
        started = False
        echo = self._echo
        header = self._header

        def send_with_id(message: Message) -> Awaitable[None]:
            # A plain function returning the awaitable of the next send: no coroutine of ours.
            nonlocal started
            if not started and message["type"] in _FIRST_MESSAGES:
                started = True
                if echo:
                    current = message.get("headers", ())
                    for key, _ in current:
                        if key == header:
                            set_header(message, header, value)  # the app sent one: replace it
                            break
                    else:  # the usual case, in one step
                        message["headers"] = [*current, (header, value)]
            return send(message)

        try:
            if rejected_length is not None and self.config.log_rejected:
                _log.warning(
                    "replaced an invalid %s request header (%d bytes) with a new request ID",
                    self._header_text,
                    rejected_length,
                    extra={"rejected_length": rejected_length},
                )
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                if started or kind != "http":
                    raise
                # Nothing answered: send the 500 ourselves, so it carries the ID, then let
                # the server see (and log) the exception as usual.
                await send_problem(scope, send, Problem(500), headers=[(header, value)] if echo else [])
                raise
        finally:
            if log_tokens is not None and structlog_vars is not None:
                structlog_vars.reset_contextvars(**log_tokens)
            REQUEST_ID.reset(token)
