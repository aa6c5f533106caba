"""Exceptions raised by ``hardening``.

The hierarchy is small on purpose::

    HardeningError
    ├── ConfigurationError   (also a ValueError)    bad settings, found at start-up
    └── MissingDependencyError (also an ImportError) an optional extra is not installed

Messages name the setting and its environment variable, say what was expected and how
to fix it, and never contain a secret value.
"""

from __future__ import annotations

__all__ = ("ConfigurationError", "HardeningError", "MissingDependencyError", "SafeValueError")


class HardeningError(Exception):
    """Base class of every exception raised by ``hardening``."""


class ConfigurationError(HardeningError, ValueError):
    """The configuration is invalid; raised at start-up, never per request.

    Attributes:
        report: The structured report behind the message, when there is one (for
            example the settings report of :func:`hardening.load_settings`).
    """

    def __init__(self, message: str, *, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class MissingDependencyError(HardeningError, ImportError):
    """A feature needs an optional dependency that is not installed.

    The message names the package and the extra that installs it, for example
    ``pip install 'hardening[ratelimit]'``.
    """

    def __init__(self, *, package: str, extra: str, feature: str, message: str | None = None) -> None:
        self.package = package
        self.extra = extra
        self.feature = feature
        super().__init__(
            message
            or f"Package {package!r} is not installed but is required for {feature}. "
            f"Install it with: pip install 'hardening[{extra}]'",
            name=package,
        )


class SafeValueError(ValueError):
    """A validation error whose message never contains the input value.

    Config validators raise it instead of ``ValueError`` when their message is written
    without the value (for example "uses the synchronous scheme 'redis://'; use
    'async+redis://'"). The settings report then shows the message even for secret
    fields, whose other validator messages it drops to be safe.
    """
