"""``harden()`` and ``middleware_list()``: the one place that orders the layers.

Outermost first (the reasons are in the "Layer order" guide):

1. request ID, 2. access log: they see every request and time all of it;
3. error guard: any exception inside becomes a problem+json 500 with the request ID;
4. tracing span;
5. health endpoints: answered before host checks, since probes send the pod IP as Host;
6. security headers: every response below carries them, 4xx and 5xx included;
7. trusted hosts; 8. HTTPS redirect (after the host check, so it never redirects to a
   foreign host);
9. CORS: 413, 429 and 500 responses from inside still carry CORS headers;
10. CSRF (Fetch Metadata);
11. body size limit; 12. rate limiting; then the app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from starlette.middleware import Middleware

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from hardening._config import LayerConfig
    from hardening.health import HealthRegistry
    from hardening.settings import HardeningSettings

__all__ = ("LAYER_ORDER", "harden", "middleware_list")

LAYER_ORDER: Final = (
    "request_id",
    "access_log",
    "errors",
    "tracing",
    "health",
    "headers",
    "hosts",
    "https_redirect",
    "cors",
    "csrf",
    "body_limit",
    "rate_limit",
)
"""Names of the ``HardeningSettings`` fields that are layers, outermost first."""


def _layers(settings: HardeningSettings) -> list[LayerConfig]:
    configs: list[LayerConfig] = [getattr(settings, name) for name in LAYER_ORDER]
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
