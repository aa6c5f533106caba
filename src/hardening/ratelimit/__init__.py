"""Rate limiting.

PLACEHOLDER: the capability's issue replaces this package.
"""

from __future__ import annotations

from hardening._config import LayerConfig

__all__ = ("RateLimitConfig",)


class RateLimitConfig(LayerConfig):
    """Placeholder config: the layer is not implemented yet."""

    enabled: bool = False
    """Whether this layer is part of the stack."""
