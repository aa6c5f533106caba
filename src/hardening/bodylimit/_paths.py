"""Which per-path setting applies to a request path: exact paths, patterns, prefixes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, Generic, TypeVar

__all__ = ("PathTable", "check_path_key")

T = TypeVar("T")

_PARAM: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:path)?\}")


def check_path_key(setting: str, key: str) -> None:
    """Raise ``ValueError`` naming ``setting`` when ``key`` is not a valid path key."""
    if not key.startswith("/"):
        msg = f"{setting}: key {key!r} must be a path starting with '/', e.g. '/uploads/*'"
        raise ValueError(msg)
    if "*" in key[:-1] or (key.endswith("*") and not key.endswith("/*")):
        msg = f"{setting}: key {key!r} may only use '*' as a final '/*' (a prefix)"
        raise ValueError(msg)


class PathTable(Generic[T]):
    """The value that applies to a path, from a default and per-path overrides.

    Keys are exact paths, route patterns (``{name}`` matches one segment, ``{name:path}``
    the rest) or prefixes ending in ``/*``. Exact paths and patterns win over prefixes;
    the longest prefix wins.
    """

    def __init__(self, default: T, paths: Mapping[str, T]) -> None:
        self._default = default
        self._exact: dict[str, T] = {}
        self._patterns: list[tuple[re.Pattern[str], T]] = []
        prefixes: list[tuple[str, T]] = []
        for key, value in paths.items():
            if key.endswith("/*"):
                prefixes.append((key[:-2], value))
            elif _PARAM.search(key):
                self._patterns.append((_compile(key), value))
            else:
                self._exact[key] = value
        self._prefixes = sorted(prefixes, key=lambda item: len(item[0]), reverse=True)

    def __call__(self, path: str) -> T:
        """Return the value for ``path``."""
        if path in self._exact:
            return self._exact[path]
        for pattern, value in self._patterns:
            if pattern.fullmatch(path):
                return value
        for prefix, value in self._prefixes:
            if path == prefix or path.startswith(prefix + "/") or not prefix:
                return value
        return self._default


def _compile(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    position = 0
    for match in _PARAM.finditer(pattern):
        out.append(re.escape(pattern[position : match.start()]))
        out.append(".+" if match.group(2) else "[^/]+")
        position = match.end()
    out.append(re.escape(pattern[position:]))
    return re.compile("".join(out))
