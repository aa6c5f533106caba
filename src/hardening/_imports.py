"""Lazy imports of optional dependencies, with an error that names the extra."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType

from hardening.errors import MissingDependencyError

__all__ = ("raise_missing", "require")


def require(module: str, *, extra: str, feature: str, package: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``extra``.

    Args:
        module: The dotted module name to import, for example ``"limits.aio"``.
        extra: The ``hardening`` extra that installs it, for example ``"ratelimit"``.
        feature: What needs it, in words, for the message ("rate limiting").
        package: The distribution name, when it differs from the top-level module.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.partition(".")[0]
        if exc.name is not None and exc.name != top and not module.startswith(exc.name):
            raise  # a broken install of the package itself, not a missing one
        raise MissingDependencyError(package=package or top, extra=extra, feature=feature) from None


def raise_missing(missing: Iterable[tuple[str, str, str]]) -> None:
    """Raise one :class:`MissingDependencyError` naming every missing extra, or return.

    :func:`hardening.harden` builds every layer first and collects what their
    :func:`require` calls found missing, so a core install fails once, with the single
    command that installs everything, not one extra per attempt.

    Args:
        missing: ``(layer, extra, package)`` for each layer that could not be built,
            for example ``("rate_limit", "ratelimit", "limits")``.
    """
    items = list(dict.fromkeys(missing))
    if not items:
        return
    extras = ",".join(dict.fromkeys(extra for _, extra, _ in items))
    packages = ", ".join(dict.fromkeys(package for _, _, package in items))
    needs = "; ".join(f"{layer} needs {package!r} (extra {extra!r})" for layer, extra, package in items)
    switches = ", ".join(dict.fromkeys(f"HARDENING_{layer.upper()}__ENABLED=false" for layer, _, _ in items))
    message = (
        f"Optional packages are not installed for the enabled layers: {needs}. "
        f"Install them all with: pip install 'hardening[{extras}]' (or 'hardening[all]'), "
        f"or turn those layers off ({switches})."
    )
    raise MissingDependencyError(package=packages, extra=extras, feature=needs, message=message)
