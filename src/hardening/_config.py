"""The base class of every capability config."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from hardening.settings import HardeningSettings

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
    """A frozen, validated capability config that can wrap an ASGI app in its layer.

    Subclasses add their fields (each with a safe default and a docstring) and implement
    :meth:`build`. They nest into :class:`hardening.HardeningSettings`, which gives each
    field an environment variable such as ``HARDENING_CORS__ALLOW_ORIGINS``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    enabled: bool = True
    """Whether this layer is part of the stack."""

    def build(self, app: ASGIApp, settings: HardeningSettings | None = None) -> ASGIApp:
        """Return ``app`` wrapped in this layer, or ``app`` itself when disabled.

        Args:
            app: The ASGI app to wrap.
            settings: The whole settings object, for layers that need shared facts
                (the environment, the trusted proxies). ``None`` when used alone.
        """
        return app
