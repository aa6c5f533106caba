"""One redaction policy, shared by logs, Sentry events, error responses and reports.

Three rules, applied together:

* values under keys that look sensitive (``password``, ``token``, ``authorization``, ...)
  are replaced by :data:`REDACTED`;
* credentials in URLs (``scheme://user:password@host``) and sensitive query parameters
  are masked inside any string;
* the exact secret values registered with :func:`register_secret` (the settings loader
  registers every ``SecretStr`` it loads) are masked wherever they appear in a string.

Redaction is recursive and copy-on-write: the caller's objects are never mutated.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = (
    "REDACTED",
    "SENSITIVE_KEY_PATTERN",
    "is_sensitive_key",
    "redact",
    "redact_text",
    "redact_url",
    "register_secret",
    "registered_secret_count",
)

REDACTED: Final = "[REDACTED]"
"""What a redacted value is replaced with."""

SENSITIVE_KEY_PATTERN: Final = re.compile(
    r"pass(word|wd|phrase)?|pwd|secret|token|api[-_]?key|apikey|auth(orization)?|cookie|"
    r"session|credential|private[-_]?key|signature|dsn|jwt|bearer|csrf|x[-_]api[-_]key",
    re.IGNORECASE,
)
"""Keys whose values are always redacted (matched anywhere in the key)."""

_MIN_SECRET_LENGTH: Final = 4
_URL_CREDENTIALS: Final = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<userinfo>[^/@\s]+)@")
_QUERY_PARAM: Final = re.compile(r"(?P<key>[?&;][^=&;#\s]+)=(?P<value>[^&;#\s]*)")

_lock = threading.Lock()
_secrets: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None


def register_secret(value: str) -> None:
    """Register an exact secret value to be masked in every output.

    Values shorter than four characters are ignored (masking them would mangle
    ordinary text); the settings report flags such secrets as too short instead.
    """
    global _secret_pattern  # noqa: PLW0603 - one process-wide registry by design
    if len(value) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(re.escape(item) for item in ordered))


def registered_secret_count() -> int:
    """Return how many secret values are registered (never the values)."""
    return len(_secrets)


def _clear_registered_secrets() -> None:
    """Forget every registered secret (tests only)."""
    global _secret_pattern  # noqa: PLW0603
    with _lock:
        _secrets.clear()
        _secret_pattern = None


def is_sensitive_key(key: str) -> bool:
    """Return whether values stored under ``key`` must be redacted."""
    return SENSITIVE_KEY_PATTERN.search(key) is not None


def _mask_query(match: re.Match[str]) -> str:
    key = match.group("key")
    if is_sensitive_key(key[1:]):
        return f"{key}={REDACTED}"
    return match.group(0)


def redact_url(url: str) -> str:
    """Mask credentials and sensitive query parameters in ``url`` (or any text)."""
    if "@" in url:
        url = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", url)
    if "=" in url:
        url = _QUERY_PARAM.sub(_mask_query, url)
    return url


def redact_text(text: str) -> str:
    """Mask registered secrets, URL credentials and sensitive query values in ``text``."""
    pattern = _secret_pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    if "://" in text or "=" in text:
        text = redact_url(text)
    return text


def redact(value: Any, *, extra_keys: Iterable[str] = ()) -> Any:
    """Return a redacted copy of ``value`` (dicts, lists, tuples, sets and strings).

    Args:
        value: Any structure; containers are copied only where something changes.
        extra_keys: More key names (exact, case-insensitive) to treat as sensitive.
    """
    extra = frozenset(key.lower() for key in extra_keys)
    return _redact(value, extra, 0)


_MAX_DEPTH: Final = 32


def _redact(value: Any, extra: frozenset[str], depth: int) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if depth >= _MAX_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        changed = False
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and (is_sensitive_key(key) or key.lower() in extra):
                new: Any = REDACTED if item is not None else None
            else:
                new = _redact(item, extra, depth + 1)
            changed = changed or new is not item
            out[key] = new
        return out if changed else value
    if isinstance(value, (list, tuple)):
        items = [_redact(item, extra, depth + 1) for item in value]
        if all(new is old for new, old in zip(items, value)):
            return value
        return type(value)(items) if isinstance(value, tuple) and type(value) is tuple else (
            items if isinstance(value, list) else tuple(items)
        )
    if isinstance(value, (set, frozenset)):
        return type(value)(_redact(item, extra, depth + 1) for item in value)
    return value
