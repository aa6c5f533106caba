"""Trusted hosts.

PLACEHOLDER: the capability's issue replaces this module with the real implementation.
"""

from __future__ import annotations

from hardening._config import LayerConfig

__all__ = ("TrustedHostConfig",)


class TrustedHostConfig(LayerConfig):
    """Placeholder config: the layer is not implemented yet."""

    enabled: bool = False
    """Whether this layer is part of the stack."""
