r"""The shapes a registered secret travels in, worked out once when it is registered.

One expression per secret matches it however each of its characters was written:

* as itself;
* escaped as ``repr()``, ``ascii()`` and JSON write it (``\\`` for a backslash, ``\'``,
  ``\"``, ``\/``, ``\n``, ``\xe9``, ``\u00e9``, ``\ud83d\ude00``, ...);
* percent-encoded (its UTF-8 bytes, either hex case) wherever ``urllib.parse.quote`` could
  encode it, whatever the safe set, and a space as ``+`` (``quote_plus``, forms).

Its base64 and base64url encodings (of the UTF-8 bytes, with or without padding) are
added as exact strings.
"""

from __future__ import annotations

import base64
import json
import re
import string
from typing import Final

__all__ = ("base64_forms", "secret_expression")

_NEVER_QUOTED: Final = frozenset(string.ascii_letters + string.digits + "_.-~")
"""What ``quote()`` leaves as it is whatever the safe set (RFC 3986's unreserved characters)."""

_EXTRA_ESCAPES: Final = {"'": ("\\'",), '"': ('\\"',), "/": ("\\/",), " ": ("+",)}


def _char_expression(char: str) -> str:
    forms = {
        char,
        repr(char)[1:-1],
        ascii(char)[1:-1],
        json.dumps(char)[1:-1],
        json.dumps(char, ensure_ascii=False)[1:-1],
    }
    forms.update(_EXTRA_ESCAPES.get(char, ()))
    alternatives = [re.escape(form) for form in sorted(forms, key=len, reverse=True)]
    if char not in _NEVER_QUOTED:
        encoded = "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        alternatives.insert(0, f"(?i:{re.escape(encoded)})")
    return alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"


def secret_expression(value: str) -> str:
    """Return a regular expression matching ``value`` written in any of the escaped forms above."""
    return "".join(_char_expression(char) for char in value)


def base64_forms(value: str) -> set[str]:
    """Return ``value``'s base64 and base64url encodings, without padding.

    Each is a prefix of the padded form, so masking it masks that too (leaving only the
    ``=`` padding, which tells nothing): one or two strings to look for, not four.
    """
    raw = value.encode("utf-8", "surrogatepass")
    standard = base64.b64encode(raw).decode("ascii").rstrip("=")
    return {standard, standard.replace("+", "-").replace("/", "_")}
