"""``harden()`` and ``middleware_list()``: the stack of :data:`hardening._registry.LAYERS`.

The order, and the reasons for it, are written once, in :mod:`hardening._registry`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TextIO

from starlette.middleware import Middleware

from hardening import _registry
from hardening._context import LayerContext
from hardening._imports import raise_missing
from hardening.errors import MissingDependencyError

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from hardening._config import LayerConfig
    from hardening.health import HealthRegistry
    from hardening.settings import HardeningSettings

__all__ = ("LAYER_ORDER", "build_layer", "configure_logging", "harden", "init_sentry", "middleware_list")

LAYER_ORDER: tuple[str, ...] = tuple(layer.name for layer in _registry.LAYERS)
"""Names of the layers (``HardeningSettings`` fields), outermost first."""


def config_of(settings: Any, entry: _registry.Layer) -> Any:
    """Return the config of a registry entry in ``settings``; its defaults when absent."""
    config = getattr(settings, entry.name, None)
    return config if isinstance(config, entry.config) else entry.config()


def _stack(settings: HardeningSettings, health: HealthRegistry | None) -> tuple[list[LayerConfig], LayerContext]:
    """The enabled layers' configs, outermost first, and the one context they share."""
    context = LayerContext.of(settings, health=health)
    configs: list[LayerConfig] = [config_of(settings, layer) for layer in _registry.LAYERS]
    return [config for config in configs if config.enabled], context


def build_layer(app: ASGIApp, config: LayerConfig, context: LayerContext | None = None) -> ASGIApp:
    """Return ``app`` wrapped in the layer ``config`` configures, or ``app`` when disabled.

    The registry says which middleware that is; ``XMiddleware(app, config,
    context=context)`` builds it.

    Args:
        app: The ASGI app to wrap.
        config: A layer's config, for example ``CORSConfig(allow_origins=[...])``.
        context: What the stack's layers share; ``None`` builds a default one.

    Raises:
        MissingDependencyError: The layer's extra is missing, and the layer is not
            optional or was enabled explicitly.
    """
    if not config.enabled:
        return app
    entry = _registry.entry_of(config)
    if entry.middleware is None:  # pragma: no cover - every layer has one (tests/test_registry.py)
        msg = f"the registry entry {entry.name!r} has no middleware"
        raise LookupError(msg)
    try:
        built: ASGIApp = entry.middleware(app, config, context=context)
    except MissingDependencyError as exc:
        if not entry.optional or "enabled" in config.model_fields_set:
            raise
        if entry.name not in _skipped:
            _skipped.add(entry.name)
            logging.getLogger(f"hardening.{entry.name}").info("%s layer skipped: %s", entry.name, exc)
        return app
    return built


_skipped: set[str] = set()
"""Optional layers already logged as skipped (one line each per process)."""


def harden(app: ASGIApp, settings: HardeningSettings | None = None, *, health: HealthRegistry | None = None) -> ASGIApp:
    """Wrap any ASGI app in the production middleware stack described by ``settings``.

    Every layer gets the same :class:`~hardening._context.LayerContext`, built once: the
    environment, one client resolver (the client address is resolved once per request)
    and the redactor.

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
    layers, context = _stack(settings, health)
    missing: list[tuple[str, str, str]] = []  # every layer is tried: one error names every missing extra
    for config in reversed(layers):
        try:
            app = build_layer(app, config, context)
        except MissingDependencyError as exc:
            missing.insert(0, (_registry.entry_of(config).name, exc.extra, exc.package))
    raise_missing(missing)
    return app


def _build_layer(app: ASGIApp, /, *, config: LayerConfig, context: LayerContext) -> ASGIApp:
    return build_layer(app, config, context)


def middleware_list(settings: HardeningSettings, *, health: HealthRegistry | None = None) -> list[Middleware]:
    """Return the same stack as :func:`harden`, as Starlette ``Middleware`` entries.

    Use it as ``Starlette(middleware=middleware_list(settings))``. Note that Starlette
    places its own exception middleware outside user middleware, so :func:`harden` gives
    the stronger guarantee (every 500 carries the request ID and security headers).
    """
    layers, context = _stack(settings, health)
    return [Middleware(_build_layer, config=config, context=context) for config in layers]


def configure_logging(settings: HardeningSettings | None = None, *, stream: TextIO | None = None) -> None:
    """Set up structlog and stdlib logging from ``settings`` (loaded from the environment if ``None``).

    See :func:`hardening.logs.configure_logging`.
    """
    from hardening.logs import configure_logging as configure

    configure(settings if settings is not None else _load(), stream=stream)


def init_sentry(settings: HardeningSettings | None = None, **options: Any) -> bool:
    """Start Sentry from ``settings.sentry`` (settings loaded from the environment if ``None``).

    See :func:`hardening.monitoring.init_sentry`; returns whether Sentry was initialised.
    """
    from hardening.monitoring import init_sentry as init

    return init(settings if settings is not None else _load(), **options)


def _load() -> HardeningSettings:
    from hardening.settings import HardeningSettings

    return HardeningSettings()
