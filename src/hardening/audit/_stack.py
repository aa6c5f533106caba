"""In-process introspection: which ``hardening`` layers wrap the app, and its routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from hardening import _registry

__all__ = ("EXPECTED_LAYERS", "Routes", "expected_layers", "find_layers", "find_routes", "routes_from_openapi")


def expected_layers() -> tuple[str, ...]:
    """Return the layers a production stack should have (``expected`` in the registry)."""
    return tuple(layer.name for layer in _registry.LAYERS if layer.expected)


EXPECTED_LAYERS: Final = expected_layers()
"""Layers a production stack should have (the others are optional or off by default)."""

_MAX_DEPTH: Final = 64
_WRITE_METHODS: Final = ("POST", "PUT", "PATCH")


def _layer_of(node: Any) -> str | None:
    """The registry name of a middleware class, or of the config a ``Middleware`` entry holds."""
    for layer in _registry.LAYERS:
        if node is layer.middleware or isinstance(node, layer.config):
            return layer.name
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
    layers: list[str] = []
    for node in _chain(app):
        name = _layer_of(type(node))
        if name is not None and name not in layers:
            layers.append(name)
        for entry in getattr(node, "user_middleware", None) or ():
            name = _layer_of(getattr(entry, "cls", None))
            if name is None:
                name = _layer_of((getattr(entry, "kwargs", {}) or {}).get("config"))
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
