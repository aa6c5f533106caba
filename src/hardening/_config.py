"""The base class of every capability config."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ("ENV_PREFIX", "LayerConfig", "env_var")

ENV_PREFIX = "HARDENING_"
"""The prefix of every environment variable :class:`hardening.HardeningSettings` reads."""


def env_var(setting: str) -> str:
    """Return the environment variable that sets a dotted setting.

    Nested settings join with ``__`` and the name is upper-case, the way
    :class:`hardening.HardeningSettings` reads them.

    Args:
        setting: The dotted setting path, e.g. ``"cors.allow_origins"``.

    Returns:
        The variable name, e.g. ``"HARDENING_CORS__ALLOW_ORIGINS"``.
    """
    return ENV_PREFIX + setting.upper().replace(".", "__")


class LayerConfig(BaseModel):
    """A frozen, validated config of a layer (a capability that wraps an ASGI app).

    Subclasses add their fields (each with a safe default and a docstring); the layer
    registry (:mod:`hardening._registry`) pairs each with its middleware and rules, and
    :func:`hardening.build_layer` wraps an app in it. They nest into
    :class:`hardening.HardeningSettings`, which gives each field an environment variable
    such as ``HARDENING_CORS__ALLOW_ORIGINS``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    enabled: bool = True
    """Whether this layer is part of the stack."""
