"""Path-prefix matching on ``scope["path"]``, shared by the layers that exempt paths.

Layers match on the decoded ``scope["path"]``, never on a URL rebuilt from the ``Host``
header (a malformed ``Host`` must not be able to change which rule applies). A prefix
matches at segment boundaries: ``/health`` matches ``/health`` and ``/health/db`` but not
``/healthz``; a prefix ending in ``/`` matches everything below it.
"""

from __future__ import annotations

from typing import Final

__all__ = (
    "HEALTH_PROBE_PATHS",
    "QUIET_PROBE_PATHS",
    "PathPrefixes",
    "ProbePaths",
    "check_path_prefixes",
    "is_plain_path",
)

HEALTH_PROBE_PATHS: Final = ("/livez", "/readyz", "/startupz", "/health")
"""The health and Kubernetes probe paths, exempt from host checks and HTTPS redirects."""

QUIET_PROBE_PATHS: Final = ("/healthz", *HEALTH_PROBE_PATHS)
"""Probe paths kept out of access logs and traces by default: ours, plus the conventional
``/healthz`` an app may serve itself."""


def is_plain_path(value: str) -> bool:
    """Return whether ``value`` starts with ``/`` and has no query, fragment or whitespace."""
    return value.startswith("/") and not any(ch in value for ch in "?#\r\n\t ")


def check_path_prefixes(values: tuple[str, ...]) -> tuple[str, ...]:
    """Validate configured path prefixes; raise ``ValueError`` describing the bad one."""
    for value in values:
        if not is_plain_path(value):
            msg = (
                f"{value!r} is not a path prefix. Expected a path that starts "
                "with '/' and has no query, fragment or whitespace, for example '/webhooks'."
            )
            raise ValueError(msg)
    return values


class PathPrefixes:
    """A set of path prefixes matched at segment boundaries."""

    __slots__ = ("_exact", "_prefixes")

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        exact: set[str] = set()
        starts: list[str] = []
        for prefix in prefixes:
            base = prefix.rstrip("/")
            exact.add(base or "/")
            starts.append(base + "/")
        self._exact = frozenset(exact)
        self._prefixes = tuple(starts)

    def matches(self, path: str) -> bool:
        """Return whether ``path`` is one of the prefixes or below one of them."""
        return path in self._exact or path.startswith(self._prefixes)


class ProbePaths:
    """The paths the health layer answers itself, matched as it matches them.

    The one definition shared by the health layer, the host check and the rate limiter:
    a path matches when it is one of the paths, or one of them followed by slashes
    (``/health/``). A sub-path (``/health/reset``) does not match: the app may serve it.
    Only an entry ending in ``/`` (``/.well-known/``) covers what is below it, by choice.
    """

    __slots__ = ("_below", "_exact")

    def __init__(self, paths: tuple[str, ...]) -> None:
        self._exact = frozenset(path.rstrip("/") or "/" for path in paths)
        self._below = tuple(path for path in paths if path.endswith("/"))

    def route(self, path: str) -> str | None:
        """Return the probe path ``path`` stands for, or ``None`` when it is no probe path."""
        if path in self._exact:
            return path
        stripped = path.rstrip("/")
        if stripped and stripped in self._exact:
            return stripped
        return None

    def matches(self, path: str) -> bool:
        """Return whether the health layer answers ``path`` (or an entry covers it)."""
        return self.route(path) is not None or (bool(self._below) and path.startswith(self._below))
