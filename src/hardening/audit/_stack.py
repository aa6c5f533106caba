"""In-process introspection: which ``hardening`` layers wrap the app, and its routes."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Final

__all__ = ("EXPECTED_LAYERS", "Routes", "find_layers", "find_routes", "routes_from_openapi")

_MIDDLEWARE: Final = (
    ("request_id", "hardening.logs.requestid", "RequestIdMiddleware"),
    ("access_log", "hardening.logs.access", "AccessLogMiddleware"),
    ("errors", "hardening.errorguard", "ErrorGuardMiddleware"),
    ("tracing", "hardening.monitoring.tracing", "TracingMiddleware"),
    ("health", "hardening.health.middleware", "HealthMiddleware"),
    ("headers", "hardening.headers._middleware", "SecurityHeadersMiddleware"),
    ("hosts", "hardening.hosts", "TrustedHostMiddleware"),
    ("https_redirect", "hardening.httpsredirect", "HTTPSRedirectMiddleware"),
    ("cors", "hardening.cors", "CORSMiddleware"),
    ("csrf", "hardening.csrf", "CSRFMiddleware"),
    ("body_limit", "hardening.bodylimit", "BodyLimitMiddleware"),
    ("rate_limit", "hardening.ratelimit.middleware", "RateLimitMiddleware"),
)

EXPECTED_LAYERS: Final = ("request_id", "errors", "health", "headers", "hosts", "cors", "body_limit", "rate_limit")
"""Layers a production stack should have (the others are optional or off by default)."""

_MAX_DEPTH: Final = 64
_WRITE_METHODS: Final = ("POST", "PUT", "PATCH")


def _classes() -> dict[type, str]:
    found: dict[type, str] = {}
    for name, module, attr in _MIDDLEWARE:
        try:
            found[getattr(importlib.import_module(module), attr)] = name
        except (ImportError, AttributeError):  # pragma: no cover - a layer being reworked
            continue
    return found


def _config_layer(config: Any) -> str | None:
    from hardening._compose import LAYER_ORDER
    from hardening.settings import HardeningSettings

    for name in LAYER_ORDER:
        annotation = HardeningSettings.model_fields[name].annotation
        if isinstance(annotation, type) and isinstance(config, annotation):
            return name
    return None


def _chain(app: Any) -> list[Any]:
    """Return ``app`` and every object reachable through ``.app`` attributes."""
    chain: list[Any] = []
    seen: set[int] = set()
    node = app
    while node is not None and id(node) not in seen and len(chain) < _MAX_DEPTH:
        seen.add(id(node))
        chain.append(node)
        node = getattr(node, "app", None)
    return chain


def find_layers(app: Any) -> tuple[str, ...]:
    """Return the ``hardening`` layers wrapping ``app``, outermost first.

    Walks the ``.app`` attributes of the middleware chain, and the ``user_middleware``
    list of Starlette and FastAPI apps (``middleware_list()`` entries included).
    """
    classes = _classes()
    layers: list[str] = []
    for node in _chain(app):
        name = classes.get(type(node))
        if name is not None and name not in layers:
            layers.append(name)
        for entry in getattr(node, "user_middleware", None) or ():
            cls = getattr(entry, "cls", None)
            kwargs = getattr(entry, "kwargs", {}) or {}
            name = classes.get(cls) if isinstance(cls, type) else None
            if name is None and "config" in kwargs:
                name = _config_layer(kwargs["config"])
            if name is not None and name not in layers:
                layers.append(name)
    return tuple(layers)


@dataclass(frozen=True, slots=True)
class Routes:
    """Concrete (parameter-free) paths and their methods, as far as they are known."""

    paths: dict[str, frozenset[str]]

    def method_not_allowed(self) -> tuple[str, str] | None:
        """Return ``(method, path)`` of a request that should get 405, if one is known."""
        for path in sorted(self.paths, key=lambda p: (p != "/", p)):
            methods = self.paths[path]
            for method in ("DELETE", "PUT", "PATCH", "POST"):
                if methods and method not in methods:
                    return method, path
        return None

    def json_endpoint(self) -> tuple[str, str] | None:
        """Return ``(method, path)`` of an endpoint that takes a request body, if one is known."""
        for path in sorted(self.paths):
            for method in _WRITE_METHODS:
                if method in self.paths[path]:
                    return method, path
        return None


def find_routes(app: Any) -> Routes:
    """Return the parameter-free routes of the Starlette/FastAPI app inside ``app``."""
    paths: dict[str, frozenset[str]] = {}
    for node in _chain(app):
        routes = getattr(node, "routes", None)
        if not isinstance(routes, list):
            continue
        for route in routes:
            path, methods = getattr(route, "path", None), getattr(route, "methods", None)
            if isinstance(path, str) and methods and "{" not in path:
                paths[path] = frozenset(str(m).upper() for m in methods)
        break
    return Routes(paths)


def routes_from_openapi(document: Any) -> Routes:
    """Return the parameter-free routes listed in an OpenAPI document."""
    paths: dict[str, frozenset[str]] = {}
    entries = document.get("paths") if isinstance(document, dict) else None
    for path, operations in (entries or {}).items():
        if isinstance(path, str) and "{" not in path and isinstance(operations, dict):
            methods = frozenset(m.upper() for m in operations if m.lower() in ("get", "post", "put", "patch", "delete"))
            if methods:
                paths[path] = methods | ({"HEAD"} if "GET" in methods else set())
    return Routes(paths)
