"""Error monitoring (Sentry) and OpenTelemetry tracing and request metrics.

* :class:`SentryConfig` / :func:`init_sentry`: the ``sentry`` extra.
* :class:`TracingConfig` / :class:`TracingMiddleware`: the ``otel`` extra
  (``opentelemetry-api`` only), with the request metrics.

Nothing here imports an optional package until it is used.
"""

from __future__ import annotations

from hardening.monitoring._rules import CHECKS
from hardening.monitoring.sentry import SentryConfig, init_sentry, redacting_hooks
from hardening.monitoring.tracing import DURATION_BUCKETS, TracingConfig, TracingMiddleware

__all__ = (
    "CHECKS",
    "DURATION_BUCKETS",
    "SentryConfig",
    "TracingConfig",
    "TracingMiddleware",
    "init_sentry",
    "redacting_hooks",
)
