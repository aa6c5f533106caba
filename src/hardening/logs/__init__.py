"""Structured logging, request IDs and the access log.

* :class:`RequestIdConfig` / :class:`RequestIdMiddleware`: the outermost layer;
  :func:`get_request_id` reads the current request's ID anywhere.
* :class:`AccessLogConfig` / :class:`AccessLogMiddleware`: one line per request, at its end.
* :class:`LoggingConfig` / :func:`configure_logging`: structlog and the standard
  library's logging as one JSON stream, with the redaction policy applied.

Only :func:`configure_logging` needs structlog (the ``logging`` extra); the middleware
work with the standard library alone.
"""

from __future__ import annotations

from hardening.logs._context import get_request_id, get_trace_ids
from hardening.logs._rules import CHECKS
from hardening.logs.access import ACCESS_LOGGER, AccessLogConfig, AccessLogMiddleware
from hardening.logs.requestid import RequestIdConfig, RequestIdMiddleware, generate_request_id
from hardening.logs.setup import LoggingConfig, add_request_context, configure_logging

__all__ = (
    "ACCESS_LOGGER",
    "CHECKS",
    "AccessLogConfig",
    "AccessLogMiddleware",
    "LoggingConfig",
    "RequestIdConfig",
    "RequestIdMiddleware",
    "add_request_context",
    "configure_logging",
    "generate_request_id",
    "get_request_id",
    "get_trace_ids",
)
