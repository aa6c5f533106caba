"""Lazy imports of optional dependencies, with an error that names the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from hardening.errors import MissingDependencyError

__all__ = ("require",)


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
