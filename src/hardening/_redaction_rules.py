"""What the redaction policy looks for: sensitive names, and the text patterns that hold them.

Stateless: these functions depend only on their arguments (their caches are caches of
pure functions). The state of the policy (registered secrets, what is known clean) lives
in :class:`hardening.redaction.Redactor`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Final

__all__ = (
    "REDACTED",
    "SENSITIVE_KEY_PATTERN",
    "SENSITIVE_PARAMS",
    "is_sensitive_key",
    "key_verdict",
    "may_name_sensitive_key",
    "param_probe",
    "query_masker",
    "redact_patterns",
    "redact_url",
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
_QUERY_PARAM: Final = re.compile(r"(?P<sep>^(?=[\w.~%+\-\[\]]+=)|[?&;])(?P<name>[^=&;#\s?]+)=(?P<value>[^&;#\s]*)")
"""A query or form parameter: after ``?``, ``&`` or ``;``, or at the start of the text (a
raw query string or form body, as Sentry's ``query_string`` holds it)."""

SENSITIVE_PARAMS: Final = frozenset(
    {
        # OAuth 2.0 (RFC 6749), PKCE (RFC 7636), JWT assertions (RFC 7521/7523), OpenID Connect
        *("code", "access_token", "refresh_token", "id_token", "client_secret", "code_verifier"),
        *("assertion", "client_assertion", "subject_token", "actor_token", "device_code", "user_code"),
        # signed URLs: AWS SigV4, Google Cloud Storage, Azure SAS, CloudFront
        *("x-amz-signature", "x-amz-credential", "x-amz-security-token", "x-goog-signature"),
        *("x-goog-credential", "sig", "signature", "policy"),
        # generic names
        *("key", "token", "pass", "pw", "pwd", "password", "secret", "auth", "api_key", "apikey"),
    }
)
"""Query and form parameter names (exact, case-insensitive) whose values are masked, on
top of every name :func:`is_sensitive_key` classes as sensitive."""
_KEY_VALUE: Final = re.compile(
    r"(?<![\w-])(?P<key>[A-Za-z][\w.\-]{0,63})(?P<sep>[\"']?\s*[=:]\s*)"
    r"(?!\[REDACTED\])(?P<value>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'"
    r"|(?:Bearer|Basic|Digest|Token|Negotiate)\s+(?:\[REDACTED\]|[^\s,;&}\]]+)|(?:\[REDACTED\]|[^\s,;&}\]\"'])+)",
    re.IGNORECASE,
)

_KEY_VERDICTS: Final[dict[str, bool]] = {}
""":func:`is_sensitive_key` answers for the keys seen so far (a plain dict: no lock, no
eviction; once full, later keys take the cached pattern search instead)."""
_MAX_KEY_VERDICTS: Final = 4096

key_verdict = _KEY_VERDICTS.get
"""The remembered answer of :func:`is_sensitive_key` for a key, or ``None`` (a dict lookup)."""


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


def query_masker(params: frozenset[str]) -> Callable[[re.Match[str]], str]:
    """Return the replacement of a query parameter: masked when its name is sensitive.

    Args:
        params: Lower-case parameter names masked exactly (:data:`SENSITIVE_PARAMS`).
    """

    def mask_query(match: re.Match[str]) -> str:
        name = match["name"]
        if match["value"] != REDACTED and (name.lower() in params or is_sensitive_key(name)):
            return f"{match['sep']}{name}={REDACTED}"
        return match.group(0)

    return mask_query


_MASK_QUERY: Final = query_masker(SENSITIVE_PARAMS)


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


def redact_url(url: str, mask_query: Callable[[re.Match[str]], str] = _MASK_QUERY) -> str:
    """Mask credentials and sensitive query parameters in ``url`` (or any text).

    Args:
        url: A URL such as ``postgresql://app:pw@db/app?sslpassword=x``.
        mask_query: What replaces each query parameter (:func:`query_masker`).

    Returns:
        ``postgresql://[REDACTED]@db/app?sslpassword=[REDACTED]``.
    """
    if "@" in url:
        url = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", url)
        url = _URL_ODD_PASSWORD.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", url)
    if "=" in url:
        url = _QUERY_PARAM.sub(mask_query, url)
    return url


def param_probe(params: frozenset[str]) -> re.Pattern[str]:
    """Return a quick test for ``name=`` with a name of ``params``, for lower-case text."""
    return re.compile(_trie({f"{name}=" for name in params}))


def _trie(words: set[str]) -> str:
    """Return one expression matching any of ``words``, factored by first character.

    The engine tries alternatives one by one: a shared first character is compared once.
    """
    by_first: dict[str, set[str]] = {}
    for word in words:
        by_first.setdefault(word[:1], set()).add(word[1:])
    branches = []
    for first, rests in sorted(by_first.items()):
        if rests == {""} or not first:
            branches.append(re.escape(first))
            continue
        inner = _trie(rests - {""})
        branches.append(f"{re.escape(first)}(?:{inner}{'|' if '' in rests else ''})")
    return "|".join(branches)


def may_name_sensitive_key(text: str) -> bool:
    """Whether some substring of ``text`` could be a sensitive key (``True`` when unsure).

    Every key the patterns below test with :func:`is_sensitive_key` (query parameters,
    ``key=value`` pairs, ``Cookie:`` lines) is a substring of ``text``. A key is
    sensitive only if a sensitive word appears in it once separators are removed, so
    when no sensitive word appears in ``text`` even with separators between its letters,
    no key can match and the patterns would change nothing. Non-ASCII text (where case
    folding has special cases) always takes the full path.
    """
    return not text.isascii() or _SPREAD_SENSITIVE_WORDS.search(text.lower()) is not None


def redact_patterns(text: str, mask_query: Callable[[re.Match[str]], str] = _MASK_QUERY) -> str:
    """Mask URL credentials, sensitive query parameters, cookie lines and pairs in ``text``."""
    if "@" in text or "=" in text:
        text = redact_url(text, mask_query)
    if ":" in text:
        text = _COOKIE_HEADER.sub(lambda m: f"{m.group('key')}{m.group('sep')}{REDACTED}", text)
    if "=" in text or ":" in text:
        text = _KEY_VALUE.sub(_mask_pair, text)
    return text
