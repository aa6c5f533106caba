"""One redaction policy, shared by logs, Sentry events, span attributes, errors and reports.

Four rules, applied together:

* values under keys that look sensitive (``password``, ``db_password``, ``x-api-key``,
  ``accessToken``, ``authorization``, ``cookie``, ...) are replaced by :data:`REDACTED`;
* credentials in URLs (``scheme://user:password@host``) and sensitive query parameters
  (``?token=...``) are masked inside any string;
* ``key=value``, ``key: value`` and ``"key": "value"`` pairs with a sensitive key are
  masked inside any string (exception messages, ``repr`` of dicts, header dumps);
* the secret values registered with :func:`register_secret` (the settings loader
  registers every secret field it loads) are masked wherever they appear in a string,
  also escaped (``repr``, JSON), percent-encoded or in base64;
* credentials in formats of a maintained secret-scanning rule set (JWTs, ``Bearer`` and
  ``Basic`` anywhere, GitHub, Slack, Stripe, AWS, Google, OpenAI, Anthropic, PEM private
  keys: see ``hardening._credential_formats``) are masked in any string.

A :class:`Redactor` holds the policy's state: the registered secrets and what it knows
needs no redaction. The module-level functions use the process's default one
(:func:`default_redactor`). Redaction is recursive and copy-on-write: the caller's
objects are never mutated, and a container is copied only when something inside it
changed.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from hardening._credential_formats import CREDENTIAL_HINTS, CREDENTIALS, mask_credential
from hardening._redaction_memo import RedactionMemo
from hardening._redaction_rules import (
    REDACTED,
    SENSITIVE_KEY_PATTERN,
    SENSITIVE_PARAMS,
    is_sensitive_key,
    key_verdict,
    may_name_sensitive_key,
    param_probe,
    query_masker,
    redact_patterns,
)
from hardening._redaction_rules import redact_url as _redact_url
from hardening._secret_forms import base64_forms, secret_expression

__all__ = (
    "REDACTED",
    "SENSITIVE_KEY_PATTERN",
    "SENSITIVE_PARAMS",
    "RedactionMemo",
    "Redactor",
    "add_sensitive_params",
    "default_redactor",
    "is_sensitive_key",
    "redact",
    "redact_text",
    "redact_url",
    "redactor",
    "register_secret",
    "registered_secret_count",
)

_MIN_SECRET_LENGTH: Final = 4
_MAX_DEPTH: Final = 32
_MAX_CLEAN_TEXTS: Final = 4096
_MAX_CLEAN_TEXT_LENGTH: Final = 256
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
_REPR_QUOTES: Final = re.compile(r"^b?(['\"])(?P<name>.*)\1$")
_may_hold_credential: Final = CREDENTIAL_HINTS.search


class Redactor:
    """The redaction policy and its state: registered secrets, and texts known to be clean.

    Everything a redactor returns depends on its registered secrets and its sensitive
    parameter names; :attr:`generation` changes whenever they do. What it remembers
    (short texts found clean, the entries of its :meth:`memo` objects) is dropped when
    the generation changes, so a secret registered later is masked on the next call,
    never served from memory.

    Args:
        sensitive_params: Query and form parameter names (exact, case-insensitive) whose
            values are masked, on top of every name :func:`is_sensitive_key` matches.
    """

    __slots__ = ("_clean", "_generation", "_lock", "_mask_query", "_params", "_pattern", "_probe", "_secrets")

    def __init__(self, *, sensitive_params: Iterable[str] = SENSITIVE_PARAMS) -> None:
        self._lock = threading.Lock()
        self._secrets: dict[str, tuple[str, ...]] = {}  # value -> its expression and base64 forms
        self._pattern: re.Pattern[str] | None = None
        self._clean: set[str] = set()
        self._generation = 0
        self._set_params(frozenset(name.lower() for name in sensitive_params))

    def _set_params(self, params: frozenset[str]) -> None:
        self._params = params
        self._mask_query = query_masker(params)
        self._probe = param_probe(params)

    @property
    def sensitive_params(self) -> frozenset[str]:
        """The query and form parameter names (lower case) masked exactly."""
        return self._params

    def add_sensitive_params(self, *names: str) -> None:
        """Mask the values of query and form parameters with these names too."""
        with self._lock:
            self._set_params(self._params | {name.lower() for name in names})
            self._changed()

    @property
    def generation(self) -> int:
        """A number that changes whenever this redactor's results may change."""
        return self._generation

    @property
    def secret_count(self) -> int:
        """How many secret values and base64 forms are registered, never the values."""
        return sum(len(forms) for forms in self._secrets.values())

    def register_secret(self, value: str) -> None:
        """Register a secret value to be masked in every output (see :func:`register_secret`)."""
        if not isinstance(value, str) or len(value) < _MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value in self._secrets:
                return
            encoded = sorted(base64_forms(value) - {value}, key=len, reverse=True)
            self._secrets[value] = (secret_expression(value), *(re.escape(form) for form in encoded))
            self._compile()
            self._changed()

    def forget_secrets(self) -> None:
        """Forget every registered secret (tests)."""
        with self._lock:
            self._secrets.clear()
            self._compile()
            self._changed()

    def _compile(self) -> None:
        # Longer secrets first (one may start with another).
        ordered = sorted(self._secrets.items(), key=lambda item: len(item[0]), reverse=True)
        expressions = [expression for _, forms in ordered for expression in forms]
        self._pattern = re.compile("|".join(expressions)) if expressions else None

    def _changed(self) -> None:
        self._generation += 1  # after the new pattern is in place, before clearing
        self._clean.clear()

    def _remember_clean(self, text: str, generation: int) -> None:
        clean = self._clean
        if len(clean) >= _MAX_CLEAN_TEXTS:
            clean.clear()  # start over: values that keep coming back return quickly
        clean.add(text)
        if generation != self._generation:  # the secrets changed meanwhile
            clean.discard(text)

    def memo(self, *, max_entries: int = 1024, max_key_length: int = 512) -> RedactionMemo[Any]:
        """Return a bounded memo for values a caller derives from text through this redactor.

        Args:
            max_entries: The memo starts over once it holds this many entries.
            max_key_length: Longer keys are never remembered.
        """
        return RedactionMemo(self, max_entries, max_key_length)

    def redact_url(self, url: str) -> str:
        """Mask credentials and sensitive query parameters in ``url`` (see :func:`redact_url`)."""
        return _redact_url(url, self._mask_query)

    def redact_text(self, text: str) -> str:
        """Mask registered secrets, URL credentials and sensitive pairs in ``text`` (see :func:`redact_text`)."""
        if text in self._clean:  # the same method, route, agent or address as on earlier lines
            return text
        generation = self._generation
        original = text
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        if _may_hold_credential(text) is not None:
            text = CREDENTIALS.sub(mask_credential, text)
        if "@" in text or (
            ("=" in text or ":" in text)
            and (may_name_sensitive_key(text) or ("=" in text and self._probe.search(text.lower()) is not None))
        ):
            text = redact_patterns(text, self._mask_query)
        # else: no URL credentials, and no key below could be a sensitive one
        if text is original and len(text) <= _MAX_CLEAN_TEXT_LENGTH and type(text) is str:
            self._remember_clean(text, generation)
        return text

    def redact(self, value: Any, *, extra_keys: Iterable[str] = ()) -> Any:
        """Return a redacted copy of ``value`` (see :func:`redact`)."""
        return self._redact(value, frozenset(key.lower() for key in extra_keys), 0)

    def bind(self, *, extra_keys: Iterable[str] = ()) -> Callable[[Any], Any]:
        """Return :meth:`redact` with ``extra_keys`` bound, for redacting many values alike."""
        extra = frozenset(key.lower() for key in extra_keys)

        def redact_value(value: Any) -> Any:
            return self._redact(value, extra, 0)

        return redact_value

    def _redact_mapping(self, value: Mapping[Any, Any], extra: frozenset[str], depth: int) -> Any:
        changed = False
        out: dict[Any, Any] = {}
        clean = self._clean
        for key, item in value.items():
            sensitive = key_verdict(key) if type(key) is str else None
            if sensitive is None:
                sensitive = isinstance(key, str) and is_sensitive_key(key)
            if sensitive or (extra and isinstance(key, str) and key.lower() in extra):
                new = REDACTED if item is not None else None
            elif type(item) is str:
                new = item if item in clean else self.redact_text(item)
            elif type(item) in _SCALAR_TYPES:  # the common log fields: nothing to look at
                out[key] = item
                continue
            else:
                new = self._redact(item, extra, depth + 1)
            if new is not item:
                changed = True
            out[key] = new
        return out if changed else value

    def _redact(self, value: Any, extra: frozenset[str], depth: int) -> Any:
        if type(value) is dict and depth < _MAX_DEPTH:  # a log event: no isinstance() walk, no ABC check
            return self._redact_mapping(value, extra, depth)
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, _PLAIN_TYPES):
            return value
        if depth >= _MAX_DEPTH:
            return REDACTED
        if isinstance(value, Mapping):
            return self._redact_mapping(value, extra, depth)
        if isinstance(value, (list, tuple)):
            if len(value) == 2 and _is_sensitive_pair_name(value[0], extra):
                items = [value[0], REDACTED]
                return items if isinstance(value, list) else _same_tuple(value, items)
            items = [self._redact(item, extra, depth + 1) for item in value]
            if all(new is old for new, old in zip(items, value, strict=True)):
                return value
            return items if isinstance(value, list) else _same_tuple(value, items)
        if isinstance(value, (set, frozenset)):
            redacted = [self._redact(item, extra, depth + 1) for item in value]
            if all(new is old for new, old in zip(redacted, value, strict=True)):
                return value
            return type(value)(redacted)
        if isinstance(value, (bytes, bytearray)):
            text = bytes(value).decode("latin-1")
            cleaned = self.redact_text(text)
            return value if cleaned == text else cleaned.encode("latin-1", "replace")
        try:
            shown = repr(value)
        except Exception:
            return value
        cleaned = self.redact_text(shown)
        return value if cleaned == shown else cleaned


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


_DEFAULT: Final = Redactor()


def default_redactor() -> Redactor:
    """Return the process's default :class:`Redactor`, the one the functions below use."""
    return _DEFAULT


def register_secret(value: str) -> None:
    """Register a secret value to be masked in every output, in the shapes it travels in.

    Worked out once, here: the value as itself, escaped as ``repr()``, ``ascii()`` and
    JSON write it, percent-encoded whatever the safe set (either hex case, ``+`` for a
    space), and its base64 and base64url encodings with and without padding. Values
    shorter than four characters are ignored (masking them would mangle ordinary text);
    the settings report flags such secrets as too short instead.

    Args:
        value: The secret, as it may appear in text.
    """
    _DEFAULT.register_secret(value)


def registered_secret_count() -> int:
    """Return how many secret values and base64 forms are registered, never the values."""
    return _DEFAULT.secret_count


def add_sensitive_params(*names: str) -> None:
    """Mask the values of query and form parameters with these names too, in every output.

    On top of :data:`SENSITIVE_PARAMS` and every name :func:`is_sensitive_key` matches;
    exact, case-insensitive.
    """
    _DEFAULT.add_sensitive_params(*names)


def _clear_registered_secrets() -> None:
    """Forget every registered secret (tests only)."""
    _DEFAULT.forget_secrets()


def redact_url(url: str) -> str:
    """Mask credentials and sensitive query parameters in ``url`` (or any text).

    Args:
        url: A URL such as ``postgresql://app:pw@db/app?sslpassword=x``.

    Returns:
        ``postgresql://[REDACTED]@db/app?sslpassword=[REDACTED]``.
    """
    return _DEFAULT.redact_url(url)


def redact_text(text: str) -> str:
    """Mask registered secrets, URL credentials and sensitive ``key=value`` pairs in ``text``.

    Args:
        text: Any string: a log message, an exception message, a header value.
    """
    return _DEFAULT.redact_text(text)


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
    return _DEFAULT.redact(value, extra_keys=extra_keys)


def redactor(*, extra_keys: Iterable[str] = ()) -> Callable[[Any], Any]:
    """Return :func:`redact` with ``extra_keys`` bound, for redacting many values alike.

    Args:
        extra_keys: More key names (exact, case-insensitive) to treat as sensitive.
    """
    return _DEFAULT.bind(extra_keys=extra_keys)
