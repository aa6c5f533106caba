"""``pool_stats``: how busy a pool is, for the health aggregator.

Works with a SQLAlchemy ``Engine``/``AsyncEngine``/``QueuePool``, an asyncpg ``Pool`` and a
psycopg_pool pool, recognised by their methods (no driver is imported). Counts the pools
do not publish (SQLAlchemy's and asyncpg's waiters) are read best-effort and are ``None``
when unavailable.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

__all__ = ("PoolStats", "pool_stats")


@dataclass(frozen=True, slots=True)
class PoolStats:
    """A snapshot of one pool.

    Attributes:
        in_use: Connections checked out right now.
        size: Connections the pool holds open right now (in use plus idle).
        max_size: The most it may hold (``pool_size + max_overflow``), ``None`` if unbounded.
        waiting: Tasks or threads waiting for a connection; ``None`` when unknown.
        overflow: Connections open beyond the steady size (SQLAlchemy's overflow).
    """

    in_use: int
    size: int
    max_size: int | None
    waiting: int | None
    overflow: int

    @property
    def idle(self) -> int:
        """Open connections nobody is using."""
        return max(self.size - self.in_use, 0)

    @property
    def utilization(self) -> float | None:
        """``in_use / max_size`` between 0 and 1, ``None`` when the pool is unbounded."""
        if not self.max_size:
            return None
        return self.in_use / self.max_size

    @property
    def saturated(self) -> bool:
        """Whether every connection is in use or someone is waiting for one."""
        return bool(self.waiting) or (self.max_size is not None and self.in_use >= self.max_size)


def _waiters(queue: Any) -> int | None:
    """Count the waiters of an asyncio queue or a SQLAlchemy queue, or ``None``."""
    with contextlib.suppress(Exception):
        inner = queue.__dict__.get("_queue") if hasattr(queue, "__dict__") else None
        if inner is not None and hasattr(inner, "_getters"):  # SQLAlchemy AsyncAdaptedQueue
            return sum(1 for getter in inner._getters if not getter.done())
        if hasattr(queue, "_getters"):  # asyncio.Queue
            return sum(1 for getter in queue._getters if not getter.done())
        if hasattr(queue, "not_empty"):  # SQLAlchemy's threading queue
            return len(queue.not_empty._waiters)
        if hasattr(queue, "use_lifo"):  # AsyncAdaptedQueue before its first use
            return 0
    return None


def _sqlalchemy(pool: Any) -> PoolStats:
    in_use = int(pool.checkedout())
    idle = int(pool.checkedin())
    steady = int(pool.size())
    max_overflow = getattr(pool, "_max_overflow", None)
    max_size = None if not steady or max_overflow is None or max_overflow < 0 else steady + max_overflow
    return PoolStats(
        in_use=in_use,
        size=in_use + idle,
        max_size=max_size,
        waiting=_waiters(getattr(pool, "_pool", None)),
        overflow=max(int(pool.overflow()), 0),
    )


def _asyncpg(pool: Any) -> PoolStats:
    size = int(pool.get_size())
    idle = int(pool.get_idle_size())
    steady = int(pool.get_min_size())
    return PoolStats(
        in_use=size - idle,
        size=size,
        max_size=int(pool.get_max_size()),
        waiting=_waiters(getattr(pool, "_queue", None)),
        overflow=max(size - steady, 0),
    )


def _psycopg(pool: Any) -> PoolStats:
    stats = pool.get_stats()
    size = int(stats.get("pool_size", 0))
    idle = int(stats.get("pool_available", 0))
    return PoolStats(
        in_use=size - idle,
        size=size,
        max_size=int(pool.max_size),
        waiting=int(stats.get("requests_waiting", 0)),
        overflow=max(size - int(pool.min_size), 0),
    )


def pool_stats(engine_or_pool: Any) -> PoolStats:
    """Return a :class:`PoolStats` snapshot of a SQLAlchemy engine or pool, or a driver pool.

    Accepts a SQLAlchemy ``Engine``, ``AsyncEngine`` or ``QueuePool``, an asyncpg
    ``Pool``, or a psycopg_pool ``ConnectionPool``/``AsyncConnectionPool``. The health
    aggregator turns :attr:`PoolStats.saturated` into a ``warn``.

    Raises:
        TypeError: When the object is none of those (SQLAlchemy's ``NullPool`` has no
            statistics).
    """
    target = getattr(engine_or_pool, "sync_engine", engine_or_pool)  # AsyncEngine -> Engine
    target = getattr(target, "pool", target)  # Engine -> Pool
    if all(hasattr(target, name) for name in ("checkedout", "checkedin", "overflow", "size")):
        return _sqlalchemy(target)
    if all(hasattr(target, name) for name in ("get_size", "get_idle_size", "get_max_size")):
        return _asyncpg(target)
    if hasattr(target, "get_stats") and hasattr(target, "max_size"):
        return _psycopg(target)
    msg = (
        f"pool_stats() cannot read a {type(engine_or_pool).__name__}; expected a SQLAlchemy engine or "
        "QueuePool, an asyncpg Pool or a psycopg_pool pool."
    )
    raise TypeError(msg)
