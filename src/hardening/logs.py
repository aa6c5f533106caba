"""Structured logging, request IDs and the access log.

PLACEHOLDER: the capability's issue replaces this module with the real implementation.
"""

from __future__ import annotations

from hardening._config import LayerConfig

__all__ = ("RequestIdConfig", "AccessLogConfig", "LoggingConfig")


class RequestIdConfig(LayerConfig):
    """Placeholder config: the layer is not implemented yet."""

    enabled: bool = False
    """Whether this layer is part of the stack."""


class AccessLogConfig(LayerConfig):
    """Placeholder config: the layer is not implemented yet."""

    enabled: bool = False
    """Whether this layer is part of the stack."""


class LoggingConfig(LayerConfig):
    """Placeholder config: the layer is not implemented yet."""

    enabled: bool = False
    """Whether this layer is part of the stack."""
