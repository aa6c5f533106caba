"""Cheap construction of the frozen result objects built on every request.

A frozen dataclass's generated ``__init__`` sets each field through
``object.__setattr__``, which costs about twice as much as setting the slot directly.
The three objects built per decision (``LimitResult``, ``Outcome``, ``Decision``) write
their ``__init__`` by hand with the setters returned here; they stay frozen, equal,
hashable and printable as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ("slot_setters",)


def slot_setters(cls: type, *names: str) -> tuple[Callable[[Any, Any], None], ...]:
    """Return the ``__set__`` of each named slot of ``cls`` (bypassing the frozen guard)."""
    return tuple(cls.__dict__[name].__set__ for name in names)
