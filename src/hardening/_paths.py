"""Path-prefix matching on ``scope["path"]``, shared by the layers that exempt paths.

Layers match on the decoded ``scope["path"]``, never on a URL rebuilt from the ``Host``
header (a malformed ``Host`` must not be able to change which rule applies). A prefix
matches at segment boundaries: ``/health`` matches ``/health`` and ``/health/db`` but not
``/healthz``; a prefix ending in ``/`` matches everything below it.
"""

from __future__ import annotations

from typing import Final

__all__ = ("HEALTH_PROBE_PATHS", "QUIET_PROBE_PATHS", "PathPrefixes", "check_path_prefixes", "is_plain_path")

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
