"""``harden()`` and ``middleware_list()``: the stack of :data:`hardening._registry.LAYERS`.

The order, and the reasons for it, are written once, in :mod:`hardening._registry`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.middleware import Middleware

from hardening import _registry

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from hardening._config import LayerConfig
    from hardening.health import HealthRegistry
    from hardening.settings import HardeningSettings

__all__ = ("LAYER_ORDER", "harden", "middleware_list")

LAYER_ORDER: tuple[str, ...] = tuple(layer.name for layer in _registry.LAYERS)
"""Names of the layers (``HardeningSettings`` fields), outermost first."""


def config_of(settings: Any, entry: _registry.Layer) -> Any:
    """Return the config of a registry entry in ``settings``; its defaults when absent."""
    config = getattr(settings, entry.name, None)
    return config if isinstance(config, entry.config) else entry.config()


def _layers(settings: HardeningSettings) -> list[LayerConfig]:
    configs: list[LayerConfig] = [config_of(settings, layer) for layer in _registry.LAYERS]
    return [config for config in configs if config.enabled]


def harden(app: ASGIApp, settings: HardeningSettings | None = None, *, health: HealthRegistry | None = None) -> ASGIApp:
    """Wrap any ASGI app in the production middleware stack described by ``settings``.

    Args:
        app: A Starlette or FastAPI app, or any ASGI callable.
        settings: The settings; when ``None`` they are loaded from the environment with
            :func:`hardening.load_settings`, which fails fast with a full report.
        health: The health checks (runtime objects, so not settings); ``None`` serves
            the process check only.

    Returns:
        A new ASGI callable. ``app`` itself is left unchanged and still usable.
    """
    if settings is None:
        from hardening.settings.loader import load_settings

        settings = load_settings()
    for config in reversed(_layers(settings)):
        app = _build_layer(app, config=config, settings=settings, health=health)
    return app


def _build_layer(
    app: ASGIApp, /, *, config: LayerConfig, settings: HardeningSettings, health: HealthRegistry | None = None
) -> ASGIApp:
    if health is not None and config is settings.health:
        return settings.health.build(app, settings, registry=health)
    return config.build(app, settings)


def middleware_list(settings: HardeningSettings, *, health: HealthRegistry | None = None) -> list[Middleware]:
    """Return the same stack as :func:`harden`, as Starlette ``Middleware`` entries.

    Use it as ``Starlette(middleware=middleware_list(settings))``. Note that Starlette
    places its own exception middleware outside user middleware, so :func:`harden` gives
    the stronger guarantee (every 500 carries the request ID and security headers).
    """
    return [Middleware(_build_layer, config=config, settings=settings, health=health) for config in _layers(settings)]
