"""One redaction policy, shared by logs, Sentry events, span attributes, errors and reports.

Four rules, applied together:

* values under keys that look sensitive (``password``, ``db_password``, ``x-api-key``,
  ``accessToken``, ``authorization``, ``cookie``, ...) are replaced by :data:`REDACTED`;
* credentials in URLs (``scheme://user:password@host``) and sensitive query parameters
  (``?token=...``) are masked inside any string;
* ``key=value``, ``key: value`` and ``"key": "value"`` pairs with a sensitive key are
  masked inside any string (exception messages, ``repr`` of dicts, header dumps);
* the exact secret values registered with :func:`register_secret` (the settings loader
  registers every ``SecretStr`` it loads) are masked wherever they appear in a string.

Redaction is recursive and copy-on-write: the caller's objects are never mutated, and a
container is copied only when something inside it changed.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any, Final
from urllib.parse import quote

__all__ = (
    "REDACTED",
    "SENSITIVE_KEY_PATTERN",
    "is_sensitive_key",
    "redact",
    "redact_text",
    "redact_url",
    "redactor",
    "register_secret",
    "registered_secret_count",
)

REDACTED: Final = "[REDACTED]"
"""What a redacted value is replaced with."""

SENSITIVE_KEY_PATTERN: Final = re.compile(
    r"passw(?:or)?d|passphrase|pwd|secret|token|apikey|authoriz|auth(?!or)|cookie|session|credential|"
    r"privatekey|accesskey|signature|dsn|jwt|bearer|csrf|xsrf|cvv",
    re.IGNORECASE,
)
"""Sensitive words, searched in a key with ``-``, ``_``, ``.`` and spaces removed.

So ``db_password``, ``X-Api-Key``, ``accessToken`` and ``client.secret`` all match;
``author`` does not.
"""

_LOWER_SENSITIVE_KEY: Final = re.compile(SENSITIVE_KEY_PATTERN.pattern)
"""The same words, case-sensitive, for lower-case ASCII keys (many times faster than
``re.IGNORECASE`` with this many alternatives)."""

_SEPARATOR_CLASS: Final = r"[\t\n\x0b\x0c\r\x1c-\x1f ._\-]*"
"""What ``_KEY_SEPARATORS`` removes from ASCII text: whitespace, ``_``, ``.`` and ``-``."""

_SPREAD_SENSITIVE_WORDS: Final = re.compile(
    re.sub(r"[a-z]", lambda m: m.group() + _SEPARATOR_CLASS, SENSITIVE_KEY_PATTERN.pattern)
)
"""The sensitive words with separators allowed between their letters, for lower-case
ASCII text: a match wherever a separator-free key holding a sensitive word could be
(and sometimes where none is: only a quick test before the full patterns)."""

_NOT_SENSITIVE: Final = re.compile(
    r"(?:max|min|prompt|completion|total|input|output|num|cached|reasoning|used|remaining)tokens?"
    r"|tokens?(?:count|used|usage|limit|total|remaining|persecond)"
    r"|accesscontrol(?:allow|expose|request)\w*",
)
"""Keys that contain a sensitive word but hold no secret: counts (LLM token usage,
mostly) and CORS headers such as ``Access-Control-Allow-Credentials``."""

_MIN_SECRET_LENGTH: Final = 4
_MAX_DEPTH: Final = 32
_KEY_SEPARATORS: Final = re.compile(r"[\s_.\-]+")
_URL_CREDENTIALS: Final = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<userinfo>[^/\s?#]+)@")
"""``scheme://userinfo@``, up to the last ``@`` before the path (``p@ss`` unencoded)."""
_URL_ODD_PASSWORD: Final = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^/\s?#@:]*):(?!\d+[/?#])(?P<password>[^\s@]*[/?#][^\s@]*)@"
)
"""``scheme://user:pa/ss@``: SQLAlchemy accepts ``/``, ``?`` and ``#`` in an unencoded
password; digits then ``/`` are a port (``host:8080/path?mail=a@b``), not a password."""
_COOKIE_HEADER: Final = re.compile(
    r"(?<![\w-])(?P<key>(?:set-)?cookie2?)(?P<sep>\s*:\s*)(?P<value>(?:\[REDACTED\]|[^\s\"'}\]])(?:\[REDACTED\]|[^\r\n\"'}\]])*)",
    re.IGNORECASE | re.MULTILINE,
)
"""A ``Cookie:``/``Set-Cookie:`` header line: every cookie on it, not just the first pair."""
_QUERY_PARAM: Final = re.compile(r"(?P<key>[?&;][^=&;#\s]+)=(?P<value>[^&;#\s]*)")
_KEY_VALUE: Final = re.compile(
    r"(?<![\w-])(?P<key>[A-Za-z][\w.\-]{0,63})(?P<sep>[\"']?\s*[=:]\s*)"
    r"(?!\[REDACTED\])(?P<value>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'"
    r"|(?:Bearer|Basic|Digest|Token|Negotiate)\s+[^\s,;&}\]]+|(?:\[REDACTED\]|[^\s,;&}\]\"'])+)",
    re.IGNORECASE,
)
_PLAIN_TYPES: Final = (
    int,
    float,
    bool,
    type(None),
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    decimal.Decimal,
    enum.Enum,
)

_SCALAR_TYPES: Final = frozenset({int, float, bool, type(None)})
"""Exact types returned as they are without any check (a subclass takes the long way)."""

_KEY_VERDICTS: dict[str, bool] = {}
""":func:`is_sensitive_key` answers for the keys seen so far (a plain dict: no lock, no
eviction; once full, later keys take the cached pattern search instead)."""
_MAX_KEY_VERDICTS: Final = 4096

_clean_texts: set[str] = set()
"""Short texts :func:`redact_text` found nothing to mask in, under the current secrets.

Cleared, never rebound: the access log holds a reference and keeps what it derived from
a text only while the text is in here."""
_clean_generation = 0
_MAX_CLEAN_TEXTS: Final = 4096
_MAX_CLEAN_TEXT_LENGTH: Final = 256

_lock = threading.Lock()
_secrets: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None


def register_secret(value: str) -> None:
    """Register an exact secret value to be masked in every output.

    Its URL-encoded form is registered too (secrets end up percent-encoded in DSNs).
    Values shorter than four characters are ignored (masking them would mangle
    ordinary text); the settings report flags such secrets as too short instead.

    Args:
        value: The secret, as it may appear in text.
    """
    global _secret_pattern
    if not isinstance(value, str) or len(value) < _MIN_SECRET_LENGTH:
        return
    forms = {value, quote(value, safe="")}
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(forms)
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(re.escape(item) for item in ordered))
        _forget_clean_texts()


def registered_secret_count() -> int:
    """Return how many secret values (and encoded forms) are registered, never the values."""
    return len(_secrets)


def _clear_registered_secrets() -> None:
    """Forget every registered secret (tests only)."""
    global _secret_pattern
    with _lock:
        _secrets.clear()
        _secret_pattern = None
        _forget_clean_texts()


def _forget_clean_texts() -> None:
    """Drop the texts known to need no redaction (after the secrets changed)."""
    global _clean_generation
    _clean_generation += 1  # after the new pattern is in place, before clearing
    _clean_texts.clear()


def _remember_clean_text(text: str, generation: int) -> None:
    """Remember that ``text`` needs no redaction, as found under ``generation``'s secrets."""
    if len(_clean_texts) >= _MAX_CLEAN_TEXTS:
        _clean_texts.clear()  # start over: values that keep coming back return quickly
    _clean_texts.add(text)
    if generation != _clean_generation:  # the secrets changed meanwhile
        _clean_texts.discard(text)


@lru_cache(maxsize=4096)
def _is_sensitive_normalized(key: str) -> bool:
    squashed = _KEY_SEPARATORS.sub("", key).lower()
    pattern = _LOWER_SENSITIVE_KEY if squashed.isascii() else SENSITIVE_KEY_PATTERN
    if pattern.search(squashed) is None:
        return False
    return _NOT_SENSITIVE.fullmatch(squashed) is None


def is_sensitive_key(key: str) -> bool:
    """Return whether values stored under ``key`` must be redacted.

    Args:
        key: A mapping key, header name, query parameter or variable name.
    """
    verdict = _KEY_VERDICTS.get(key)
    if verdict is None:
        verdict = _is_sensitive_normalized(key[:128])
        if len(_KEY_VERDICTS) < _MAX_KEY_VERDICTS:
            _KEY_VERDICTS[key] = verdict
    return verdict


def _mask_query(match: re.Match[str]) -> str:
    key = match.group("key")
    if is_sensitive_key(key[1:]) and match.group("value") != REDACTED:
        return f"{key}={REDACTED}"
    return match.group(0)


def _mask_pair(match: re.Match[str]) -> str:
    if not is_sensitive_key(match.group("key")):
        value = match.group("value")
        if len(value) > 2 and value[0] in ("'", '"') and ("=" in value or ":" in value):
            # A quoted value can itself hold pairs: {"error": "password=x"}.
            inner = _KEY_VALUE.sub(_mask_pair, value[1:-1])
            return f"{match.group('key')}{match.group('sep')}{value[0]}{inner}{value[-1]}"
        return match.group(0)
    value = match.group("value")
    quote_char = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('key')}{match.group('sep')}{quote_char}{REDACTED}{quote_char}"


def redact_url(url: str) -> str:
    """Mask credentials and sensitive query parameters in ``url`` (or any text).

    Args:
        url: A URL such as ``postgresql://app:pw@db/app?sslpassword=x``.

    Returns:
        ``postgresql://[REDACTED]@db/app?sslpassword=[REDACTED]``.
    """
    if "@" in url:
        url = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", url)
        url = _URL_ODD_PASSWORD.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", url)
    if "=" in url:
        url = _QUERY_PARAM.sub(_mask_query, url)
    return url


def redact_text(text: str) -> str:
    """Mask registered secrets, URL credentials and sensitive ``key=value`` pairs in ``text``.

    Args:
        text: Any string: a log message, an exception message, a header value.
    """
    if text in _clean_texts:  # the same method, route, agent or address as on earlier lines
        return text
    generation = _clean_generation
    original = text
    pattern = _secret_pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    if "@" in text or (("=" in text or ":" in text) and _may_name_sensitive_key(text)):
        text = _redact_patterns(text)
    # else: no URL credentials, and no key below could be a sensitive one
    if text is original and len(text) <= _MAX_CLEAN_TEXT_LENGTH and type(text) is str:
        _remember_clean_text(text, generation)
    return text


def _may_name_sensitive_key(text: str) -> bool:
    """Whether some substring of ``text`` could be a sensitive key (``True`` when unsure).

    Every key the patterns below test with :func:`is_sensitive_key` (query parameters,
    ``key=value`` pairs, ``Cookie:`` lines) is a substring of ``text``. A key is
    sensitive only if a sensitive word appears in it once separators are removed, so
    when no sensitive word appears in ``text`` even with separators between its letters,
    no key can match and the patterns would change nothing. Non-ASCII text (where case
    folding has special cases) always takes the full path.
    """
    return not text.isascii() or _SPREAD_SENSITIVE_WORDS.search(text.lower()) is not None


def _redact_patterns(text: str) -> str:
    """Mask URL credentials, sensitive query parameters, cookie lines and pairs in ``text``."""
    if "@" in text or "=" in text:
        text = redact_url(text)
    if ":" in text:
        text = _COOKIE_HEADER.sub(lambda m: f"{m.group('key')}{m.group('sep')}{REDACTED}", text)
    if "=" in text or ":" in text:
        text = _KEY_VALUE.sub(_mask_pair, text)
    return text


def redact(value: Any, *, extra_keys: Iterable[str] = ()) -> Any:
    """Return a redacted copy of ``value``.

    Mappings, lists, tuples and sets are walked (32 levels deep at most; deeper parts
    are replaced by :data:`REDACTED`); strings go through :func:`redact_text`; bytes
    are checked as Latin-1 text. Any other object whose ``repr`` would reveal
    something is replaced by its redacted ``repr``; numbers, dates, UUIDs and enums
    are returned as they are.

    Args:
        value: Any structure; containers are copied only where something changes.
        extra_keys: More key names (exact, case-insensitive) to treat as sensitive.
    """
    extra = frozenset(key.lower() for key in extra_keys)
    return _redact(value, extra, 0)


def redactor(*, extra_keys: Iterable[str] = ()) -> Callable[[Any], Any]:
    """Return :func:`redact` with ``extra_keys`` bound, for redacting many values alike.

    Args:
        extra_keys: More key names (exact, case-insensitive) to treat as sensitive.
    """
    extra = frozenset(key.lower() for key in extra_keys)

    def redact_value(value: Any) -> Any:
        return _redact(value, extra, 0)

    return redact_value


def _redact_mapping(value: Mapping[Any, Any], extra: frozenset[str], depth: int) -> Any:
    changed = False
    out: dict[Any, Any] = {}
    for key, item in value.items():
        sensitive = _KEY_VERDICTS.get(key) if type(key) is str else None
        if sensitive is None:
            sensitive = isinstance(key, str) and is_sensitive_key(key)
        if sensitive or (extra and isinstance(key, str) and key.lower() in extra):
            new = REDACTED if item is not None else None
        elif type(item) is str:
            # redact_text()'s first test inlined: most values of a log line were seen clean before.
            new = item if item in _clean_texts else redact_text(item)
        elif type(item) in _SCALAR_TYPES:  # the common log fields: nothing to look at
            out[key] = item
            continue
        else:
            new = _redact(item, extra, depth + 1)
        if new is not item:
            changed = True
        out[key] = new
    return out if changed else value


def _redact(value: Any, extra: frozenset[str], depth: int) -> Any:
    if type(value) is dict and depth < _MAX_DEPTH:  # a log event: no isinstance() walk, no ABC check
        return _redact_mapping(value, extra, depth)
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, _PLAIN_TYPES):
        return value
    if depth >= _MAX_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        return _redact_mapping(value, extra, depth)
    if isinstance(value, (list, tuple)):
        if len(value) == 2 and _is_sensitive_pair_name(value[0], extra):
            items = [value[0], REDACTED]
            return items if isinstance(value, list) else _same_tuple(value, items)
        items = [_redact(item, extra, depth + 1) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return items if isinstance(value, list) else _same_tuple(value, items)
    if isinstance(value, (set, frozenset)):
        redacted = [_redact(item, extra, depth + 1) for item in value]
        if all(new is old for new, old in zip(redacted, value, strict=True)):
            return value
        return type(value)(redacted)
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("latin-1")
        cleaned = redact_text(text)
        return value if cleaned == text else cleaned.encode("latin-1", "replace")
    return _redact_object(value)


_REPR_QUOTES: Final = re.compile(r"^b?(['\"])(?P<name>.*)\1$")


def _is_sensitive_pair_name(name: Any, extra: frozenset[str]) -> bool:
    """Whether ``name`` is the sensitive name of a ``(name, value)`` pair (ASGI headers)."""
    if isinstance(name, (bytes, bytearray)):
        name = bytes(name).decode("latin-1")
    if not isinstance(name, str) or len(name) > 64:
        return False
    quoted = _REPR_QUOTES.match(name)  # Sentry shows bytes as their repr: "b'cookie'"
    if quoted is not None:
        name = quoted["name"]
    return is_sensitive_key(name) or (bool(extra) and name.lower() in extra)


def _same_tuple(value: tuple[Any, ...], items: list[Any]) -> tuple[Any, ...]:
    if type(value) is tuple:
        return tuple(items)
    try:  # a named tuple keeps its type
        return type(value)(*items)
    except TypeError:
        return tuple(items)


def _redact_object(value: Any) -> Any:
    try:
        shown = repr(value)
    except Exception:
        return value
    cleaned = redact_text(shown)
    return value if cleaned == shown else cleaned
