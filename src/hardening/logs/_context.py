"""The per-request log context: the request ID and the trace IDs, in context variables.

Kept free of optional imports so every layer (and the stdlib-only access log) can use it.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from typing import Final

__all__ = (
    "REQUEST_ID",
    "SPAN_ID_STATE_KEY",
    "TRACE_IDS",
    "TRACE_ID_STATE_KEY",
    "get_request_id",
    "get_trace_ids",
    "parse_traceparent",
)

REQUEST_ID: Final[ContextVar[str | None]] = ContextVar("hardening_request_id", default=None)
"""The current request's ID; set and always reset by the request-ID layer."""

TRACE_IDS: Final[ContextVar[tuple[str, str] | None]] = ContextVar("hardening_trace_ids", default=None)
"""``(trace_id, span_id)`` of the current server span; set and reset by the tracing layer."""

_TRACEPARENT: Final = re.compile(r"^[0-9a-f]{2}-(?P<trace>[0-9a-f]{32})-(?P<span>[0-9a-f]{16})-[0-9a-f]{2}")
_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16


def get_request_id() -> str | None:
    """Return the ID of the request being handled, or ``None`` outside a request.

    The request-ID layer sets it for the whole request, including code run in a
    thread pool by Starlette or FastAPI, and resets it when the response has ended.
    """
    return REQUEST_ID.get()


def get_trace_ids() -> tuple[str, str] | None:
    """Return ``(trace_id, span_id)`` as hex of the current tracing-layer span, if any."""
    return TRACE_IDS.get()


def parse_traceparent(value: bytes | str | None) -> tuple[str, str] | None:
    """Return ``(trace_id, span_id)`` from a W3C ``traceparent`` value, or ``None`` if invalid."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    match = _TRACEPARENT.match(text.strip())
    if match is None or match["trace"] == _ZERO_TRACE or match["span"] == _ZERO_SPAN:
        return None
    return match["trace"], match["span"]


TRACE_ID_STATE_KEY: Final = "trace_id"
"""Key under ``scope["state"]`` where the tracing layer stores the trace ID (hex)."""

SPAN_ID_STATE_KEY: Final = "span_id"
"""Key under ``scope["state"]`` where the tracing layer stores the server span ID (hex)."""
