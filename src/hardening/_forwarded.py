"""RFC 7239 ``Forwarded`` grammar, read from the right. Used only by :mod:`hardening.clientip`.

A ``Forwarded`` value is ``forwarded-element *( "," forwarded-element )``, an element is
``pair *( ";" pair )``, a pair ``token "=" ( token / quoted-string )`` and a quoted
string may hold backslash escapes. Trusted proxies append on the right, so the value is
read from the right and reading stops at the first syntax error: whatever a client wrote
on the left (an unbalanced quote, a stray ``;``) can never change how the hops the
proxies appended after it are read.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ("forwarded_from_right",)

_TCHAR: Final = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ESCAPED: Final = re.compile(r"\\(.)", re.DOTALL)


def _pair_from_right(value: str, end: int) -> tuple[str, str, int] | None:
    """Read one ``token=value`` ending at ``end`` from the right: ``(name, value, start)``.

    ``None`` when the text there is not RFC 7239 syntax. Reading from the right means an
    unbalanced quote or stray separator to the left can never reach into this pair.
    """
    if end and value[end - 1] == '"':  # quoted-string: the opening quote is the first one,
        quote = end - 2  # from the right, preceded by an even run of backslashes
        while quote >= 0:
            if value[quote] == '"':
                run = quote
                while run and value[run - 1] == "\\":
                    run -= 1
                if (quote - run) % 2 == 0:
                    break
            quote -= 1
        if quote < 0:
            return None
        text, start = _ESCAPED.sub(r"\1", value[quote + 1 : end - 1]), quote
    else:
        start = end
        while start and value[start - 1] in _TCHAR:
            start -= 1
        if start == end:
            return None
        text = value[start:end]
    if not start or value[start - 1] != "=":
        return None
    equals = name_start = start - 1
    while name_start and value[name_start - 1] in _TCHAR:
        name_start -= 1
    if name_start == equals:
        return None
    return value[name_start:equals].lower(), text, name_start


def forwarded_from_right(value: str, limit: int) -> tuple[list[dict[str, str]], bool]:
    """The rightmost ``limit`` elements of a ``Forwarded`` value, rightmost first.

    Also says whether anything is left to their left: more elements, or text that is not
    RFC 7239 syntax. Parsing stops at the first syntax error, so only the (leftmost,
    client-written) part from there on is lost, never a hop a proxy appended after it.
    """
    elements: list[dict[str, str]] = []
    end = len(value.rstrip(" \t"))
    while end and len(elements) < limit:
        pairs: list[tuple[str, str]] = []
        while True:
            end = len(value[:end].rstrip(" \t"))
            if end and value[end - 1] not in ",;":  # else an empty pair or element
                pair = _pair_from_right(value, end)
                if pair is None:
                    return elements, True
                pairs.append(pair[:2])
                end = len(value[: pair[2]].rstrip(" \t"))
            if not end or value[end - 1] == ",":
                break
            if value[end - 1] != ";":
                return elements, True
            end -= 1
        if pairs:
            elements.append(dict(reversed(pairs)))
        end = len(value[: max(end - 1, 0)].rstrip(" \t"))
    return elements, end > 0
