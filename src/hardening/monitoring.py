"""Sentry error monitoring and OpenTelemetry tracing.

PLACEHOLDER: the capability's issue replaces this module with the real implementation.
"""

from __future__ import annotations

from hardening._config import LayerConfig

__all__ = ("TracingConfig", "SentryConfig")


class TracingConfig(LayerConfig):
    """Placeholder config: the layer is not implemented yet."""

    enabled: bool = False
    """Whether this layer is part of the stack."""


class SentryConfig(LayerConfig):
    """Placeholder config: the layer is not implemented yet."""

    enabled: bool = False
    """Whether this layer is part of the stack."""
