"""Origin parsing and matching shared by the CORS and CSRF layers.

An origin is what a browser sends in the ``Origin`` header: ``scheme://host[:port]``,
lower-case, with no path, no trailing slash and no default port. Matching never
"fixes up" what the client sent: a value that is not a well-formed origin matches
nothing, so ``https://example.com.evil.com``, ``https://a@example.com`` or two origins in
one header can never slip through a pattern.

Configured entries are normalised once (lower-cased, default port dropped) and may be:

* an exact origin, ``https://app.example.com``;
* a subdomain pattern, ``https://*.example.com`` (any depth of subdomain, never the apex);
* ``null`` (the opaque origin of sandboxed frames and ``file:`` pages), only when listed.

Whether a wildcard reaches beyond one owner (``*.co.uk``, ``*.github.io``) is judged
with the Public Suffix List, through the ``publicsuffixlist`` package and the copy it
ships (no network): :func:`wildcard_base_problem`, shared by CORS and trusted hosts.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

__all__ = (
    "DEFAULT_PORTS",
    "SPECIAL_USE_DOMAINS",
    "Origin",
    "OriginMatcher",
    "normalise_origin_entry",
    "parse_origin",
    "regex_host_suffix",
    "valid_bracketed_host",
    "wildcard_base_problem",
)

DEFAULT_PORTS: Final[dict[str, int]] = {"http": 80, "https": 443, "ws": 80, "wss": 443}
"""Default port of each scheme; a serialized origin never spells it out."""

_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_ORIGIN_RE: Final = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*)://"
    rf"(?P<host>\[[0-9a-f:.]+\]|{_LABEL}(?:\.{_LABEL})*)"
    r"(?::(?P<port>[0-9]{1,5}))?"
)
_PATTERN_RE: Final = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*)://\*\."
    rf"(?P<host>{_LABEL}(?:\.{_LABEL})*)"
    r"(?::(?P<port>[0-9]{1,5}))?"
)


@dataclass(frozen=True, slots=True)
class Origin:
    """A parsed, well-formed origin.

    Attributes:
        scheme: The lower-case scheme, for example ``https``.
        host: The lower-case host; IPv6 literals keep their brackets.
        port: The explicit port, or ``None`` when the scheme's default is used.
    """

    scheme: str
    host: str
    port: int | None

    def effective_port(self) -> int | None:
        """Return the port in use: the explicit one or the scheme's default."""
        return self.port if self.port is not None else DEFAULT_PORTS.get(self.scheme)


def _port(scheme: str, raw: str | None) -> int | bool | None:
    """Return the port to keep (``None`` for the default), or ``False`` if invalid."""
    if raw is None:
        return None
    port = int(raw)
    if port > 65535:  # the largest TCP port
        return False
    return None if DEFAULT_PORTS.get(scheme) == port else port


def valid_bracketed_host(host: str) -> bool:
    """Return whether ``host`` is not bracketed, or is a bracketed valid IPv6 literal."""
    if not host.startswith("["):
        return True
    try:
        ipaddress.IPv6Address(host[1:-1])
    except ValueError:
        return False
    return True


def parse_origin(value: str) -> Origin | None:
    """Parse an ``Origin`` header value strictly; ``None`` when it is not well formed.

    The value must already be in serialized form: lower-case, no default port, no
    path. ``null`` is not an origin here (callers decide whether to accept it).
    """
    match = _ORIGIN_RE.fullmatch(value)
    if match is None:
        return None
    scheme, host, raw_port = match.group("scheme", "host", "port")
    if not valid_bracketed_host(host):
        return None
    port = _port(scheme, raw_port)
    if port is False or (raw_port is not None and port is None):
        return None  # out of range, or a default port spelled out: not serialized form
    return Origin(scheme, host, port if isinstance(port, int) else None)


def normalise_origin_entry(entry: str) -> str | None:
    """Normalise a configured origin or ``scheme://*.host`` pattern; ``None`` if invalid.

    Lower-cases the value and drops a default port, so ``HTTPS://App.Example.com:443``
    becomes ``https://app.example.com``. ``null`` and ``*`` are returned unchanged.
    """
    value = entry.strip().lower()
    if value in ("null", "*"):
        return value
    for pattern, prefix in ((_PATTERN_RE, "*."), (_ORIGIN_RE, "")):
        match = pattern.fullmatch(value)
        if match is None:
            continue
        scheme, host, raw_port = match.group("scheme", "host", "port")
        if not valid_bracketed_host(host):
            return None
        port = _port(scheme, raw_port)
        if port is False:
            return None
        suffix = "" if port is None else f":{port}"
        return f"{scheme}://{prefix}{host}{suffix}"
    return None


class OriginMatcher:
    """Decide whether an ``Origin`` header value is in a list of normalised entries.

    Args:
        entries: Normalised entries (see :func:`normalise_origin_entry`); ``*`` is
            ignored here (callers handle the wildcard themselves).
        regexes: Compiled patterns, matched in full against well-formed origins only.
    """

    __slots__ = ("_exact", "_regexes", "_subdomains", "allows_null")

    def __init__(self, entries: tuple[str, ...], regexes: tuple[re.Pattern[str], ...] = ()) -> None:
        exact: set[str] = set()
        subdomains: list[tuple[str, str, int | None]] = []
        self.allows_null = False
        for entry in entries:
            if entry == "null":
                self.allows_null = True
            elif "://*." in entry:
                parsed = _PATTERN_RE.fullmatch(entry)
                if parsed is not None:
                    scheme, host, raw_port = parsed.group("scheme", "host", "port")
                    subdomains.append((scheme, "." + host, None if raw_port is None else int(raw_port)))
            elif entry != "*":
                exact.add(entry)
        self._exact = frozenset(exact)
        self._subdomains = tuple(subdomains)
        self._regexes = regexes

    def __bool__(self) -> bool:
        return bool(self._exact or self._subdomains or self._regexes or self.allows_null)

    def matches(self, value: str) -> bool:
        """Return whether the header value ``value`` is an allowed origin."""
        if value in self._exact:
            return True
        if value == "null":
            return self.allows_null
        if not (self._subdomains or self._regexes):
            return False
        origin = parse_origin(value)
        if origin is None:
            return False
        for scheme, suffix, port in self._subdomains:
            if origin.scheme == scheme and origin.port == port and origin.host.endswith(suffix):
                return True
        return any(regex.fullmatch(value) for regex in self._regexes)


SPECIAL_USE_DOMAINS: Final = frozenset(
    {"alt", "example", "home.arpa", "internal", "invalid", "local", "localhost", "test"}
)
"""Names nobody can register on the public Internet (RFC 6761, 6762, 8375, 9476; ICANN's
``internal``): a wildcard below one stays within the networks that use it."""


@cache
def _public_suffix_list() -> PublicSuffixList:
    from publicsuffixlist import PublicSuffixList  # read once, from the package's own copy

    return PublicSuffixList()


def wildcard_base_problem(base: str) -> str | None:
    """Return why ``*.<base>`` would match names of many owners, or ``None`` if it cannot.

    A base is fine when it is a registrable domain or below one (``example.com``,
    ``app.example.co.uk``, ``me.github.io``), judged with the Public Suffix List, or a
    special-use name or below one (:data:`SPECIAL_USE_DOMAINS`: ``localhost``,
    ``internal``, ``svc.cluster.local``).
    """
    labels = base.split(".")
    if any(".".join(labels[i:]) in SPECIAL_USE_DOMAINS for i in range(len(labels))):
        return None
    if _public_suffix_list().privatesuffix(base) is not None:
        return None
    return (
        f"'{base}' is a public suffix (Public Suffix List): anyone can register a name under it, "
        f"so '*.{base}' matches sites of every owner"
    )


_PORT_TAILS: Final = ("(?::[0-9]+)?", "(:[0-9]+)?", "(?::\\d+)?", "(:\\d+)?", ":[0-9]+", ":\\d+")
_LITERAL_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def regex_host_suffix(pattern: str) -> str | None:
    r"""Return the domain every host matched by an origin regex provably ends with.

    The regex (matched in full) must end with a literal ``\.label\.label`` (and may then
    allow a port, as ``(:[0-9]+)?``), and have no top-level ``|``:
    ``https://pr-[0-9]+\.preview\.example\.com`` gives ``preview.example.com``. Returns
    ``None`` when no such suffix can be read off the pattern.
    """
    body = pattern.removeprefix("^").removesuffix("$")
    if _top_level_alternation(body):
        return None
    for tail in _PORT_TAILS:
        if body.endswith(tail):
            body = body[: -len(tail)]
            break
    i = len(body)
    while i > 0:
        if body[i - 2 : i] == "\\." and body[i - 3 : i - 2] != "\\":
            i -= 2
        elif body[i - 1] in _LITERAL_CHARS and body[i - 2 : i - 1] != "\\":
            i -= 1
        else:
            break
    literal = body[i:]
    start = literal.find("\\.")
    if start < 0:
        return None
    domain = literal[start:].replace("\\.", ".").lstrip(".")
    return domain if domain and ".." not in domain and not domain.endswith(".") else None


def _top_level_alternation(pattern: str) -> bool:
    depth, i, in_class = 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            i += 2 if pattern[i + 1 : i + 2] == "]" else 1  # a ']' first in a class is literal
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return True
        i += 1
    return False
