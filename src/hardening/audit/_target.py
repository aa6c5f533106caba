"""What the audit probes in-process: ``MODULE:APP`` like uvicorn, app factories, the app's own Host."""

from __future__ import annotations

import importlib
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hardening.audit._model import AuditError
from hardening.errors import HardeningError
from hardening.redaction import redact_text

if TYPE_CHECKING:
    from starlette.types import ASGIApp

__all__ = ("Target", "app_host", "build_target", "is_factory", "load_app")


def load_app(target: str) -> Any:
    """Import ``MODULE:APP`` (the current directory is importable) and return the object."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        msg = f"target must be MODULE:APP or an http(s):// URL, got {target!r}"
        raise AuditError(msg)
    if str(Path.cwd()) not in sys.path and "" not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        msg = f"cannot import module {module_name!r} ({type(exc).__name__}: {_first_line(exc)})"
        raise AuditError(msg) from None
    app: Any = module
    for part in attr.split("."):
        app = getattr(app, part, None)
    if not callable(app):
        msg = f"{target!r} is not an ASGI app (nothing callable by that name)"
        raise AuditError(msg)
    return app


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return redact_text(text[0])[:300] if text else "no message"


def is_factory(value: Any) -> bool:
    """Whether ``value`` is a zero-argument callable (an app factory), not an ASGI app.

    An ASGI app takes ``(scope, receive, send)``; a factory takes no required argument.
    Anything that accepts ``*args`` or whose signature cannot be read counts as an app.
    """
    if isinstance(value, type):
        return False
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):
        return False
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return False
        required = parameter.default is inspect.Parameter.empty and parameter.kind is not inspect.Parameter.VAR_KEYWORD
        if required:
            return False
    return True


@dataclass(frozen=True, slots=True)
class Target:
    """The app to probe, and how it was found.

    Attributes:
        app: The ASGI app.
        notes: What the report says about it (a factory was called, ...).
    """

    app: ASGIApp
    notes: tuple[str, ...] = ()


def build_target(value: Any, *, name: str, factory: bool = False) -> Target:
    """Return the ASGI app behind ``value``: called once when it is an app factory.

    Args:
        value: What ``MODULE:APP`` named (or the object given to :func:`audit`).
        name: How the report names it.
        factory: ``True`` (``--factory``): ``value`` is a factory, whatever its signature.
    """
    detected = is_factory(value)
    if not (factory or detected):
        return Target(value)
    try:
        app = value()
    except Exception as exc:
        # A ConfigurationError's message is the whole settings report (no values): all of it helps.
        text = redact_text(str(exc).strip()) if isinstance(exc, HardeningError) else _first_line(exc)
        msg = f"the app factory {name} raised {type(exc).__name__}: {text}"
        raise AuditError(msg) from None
    if not callable(app):
        msg = f"the app factory {name} returned {type(app).__name__}, not an ASGI app"
        raise AuditError(msg)
    how = "--factory" if factory else "detected: a zero-argument callable"
    return Target(app, (f"{name} is an app factory ({how}); it was called once and the app it returned was probed.",))


def app_host(app: Any) -> str | None:
    """Return a Host the app's own trusted-hosts layer accepts, or ``None``.

    Found through the layer chain (the ``.app`` attributes). ``None`` when the layer
    accepts the default ``testserver`` (or any host) or there is no such layer; else the
    first listed host that is not a localhost name (HSTS is never sent for those), and a
    wildcard entry ``*.example.com`` gives ``audit.example.com``.
    """
    from hardening.audit._stack import _chain
    from hardening.hosts import TrustedHostMiddleware

    for node in _chain(app):
        if isinstance(node, TrustedHostMiddleware):
            hosts: tuple[str, ...] = node.allowed_hosts
            if not hosts or node.is_allowed(b"testserver", "https"):
                return None
            names = [host if not host.startswith("*.") else f"audit{host[1:]}" for host in hosts]
            local = ("localhost", "127.0.0.1", "[::1]")
            return next((h for h in names if h.split(":")[0] not in local and not h.endswith(".localhost")), names[0])
    return None
