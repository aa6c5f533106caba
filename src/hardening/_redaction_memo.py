"""A bounded memo of values derived through a redactor, valid while its results cannot change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

__all__ = ("RedactionMemo",)

V = TypeVar("V")


class _Versioned(Protocol):
    @property
    def generation(self) -> int: ...


class RedactionMemo(Generic[V]):
    """Values a caller derived from raw input through a :class:`~hardening.redaction.Redactor`, while still valid.

    Bounded (it starts over when full; long keys are never kept) and emptied as soon as
    the redactor's :attr:`~hardening.redaction.Redactor.generation` changes, so nothing derived under older
    secrets is served. Made by :meth:`hardening.redaction.Redactor.memo`.
    """

    __slots__ = ("_entries", "_generation", "_max_entries", "_max_key_length", "_redactor")

    def __init__(self, redactor: _Versioned, max_entries: int, max_key_length: int) -> None:
        self._redactor = redactor
        self._max_entries = max_entries
        self._max_key_length = max_key_length
        self._entries: dict[str | bytes, V] = {}
        self._generation = redactor.generation

    def __len__(self) -> int:
        """How many entries are held."""
        return len(self._entries)

    def keys(self) -> list[str | bytes]:
        """The keys held, oldest first."""
        return list(self._entries)

    def get(self, key: str | bytes, derive: Callable[[Any], V]) -> V:
        """Return the value remembered for ``key``, or ``derive(key)`` (then remembered)."""
        generation = self._redactor.generation
        entries = self._entries
        if generation != self._generation:
            entries.clear()
            self._generation = generation
        try:
            return entries[key]
        except KeyError:
            pass
        value = derive(key)
        if len(key) <= self._max_key_length and self._redactor.generation == generation:
            if len(entries) >= self._max_entries:
                entries.clear()
            entries[key] = value
        return value
