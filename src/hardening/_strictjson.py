"""Strict JSON numbers: where a body holds ``NaN``, ``Infinity`` or a number beyond float range.

RFC 8259 has no NaN or Infinity, yet Python's ``json`` and pydantic's parser accept the
literals, and read ``1e999999`` as ``inf``. A quick byte scan finds bodies that may hold
one; only those are parsed again (by the standard library) to find each place.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

__all__ = ("NON_FINITE_ERROR", "non_finite_errors")

NON_FINITE_ERROR: Final = "finite_number"
"""The error ``code`` of a non-finite number (pydantic's own name for the check)."""

# NaN / Infinity literals, an exponent of three digits or more, or a very long number:
# nothing else can parse to a non-finite float. Words in strings match too, harmlessly.
_SUSPECT: Final = re.compile(rb"NaN|Infinity|[eE][+-]?\d{3}|\d{300}")
_MESSAGE: Final = "Input should be a finite number (no NaN, Infinity or number beyond float range)"


def non_finite_errors(raw: bytes | str) -> list[dict[str, Any]]:
    """Return one pydantic-style error (``loc``, ``msg``, ``type``) per non-finite number in ``raw``.

    Empty when there is none, or when ``raw`` is not JSON (its parser reports that).
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if _SUSPECT.search(data) is None:
        return []
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return []
    errors: list[dict[str, Any]] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        location, value = stack.pop()
        if isinstance(value, float):
            if not math.isfinite(value):
                errors.append({"loc": location, "msg": _MESSAGE, "type": NON_FINITE_ERROR})
        elif isinstance(value, dict):
            stack.extend(((*location, key), child) for key, child in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(((*location, index), child) for index, child in reversed(list(enumerate(value))))
    return errors
