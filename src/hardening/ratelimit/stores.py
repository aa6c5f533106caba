"""Where the counters live.

A bounded in-memory store and Redis, Redis Sentinel or a Redis Cluster (one script call
per decision); any other ``limits`` async storage (Memcached, Valkey, MongoDB) is
:class:`hardening.ratelimit._limits_store.LimitsStore`.

Every store answers one question, :meth:`Store.acquire`: may a request of ``cost`` pass
every limit of its policy? The answer is an :class:`Outcome`, with the remaining quota and
the time until more quota for each limit, so response headers cost no extra round trip.
Limits are "all or none": a request rejected by one limit consumes none of the others.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from hashlib import sha1
from typing import Any, Final, Protocol

from hardening.ratelimit._lua import SCRIPTS
from hardening.ratelimit._redis_links import build_link
from hardening.ratelimit.windows import Limit, LimitResult, Outcome, Strategy, decide, new_state

__all__ = (
    "Charge",
    "Limit",
    "LimitResult",
    "MemoryStore",
    "Outcome",
    "RedisStore",
    "Store",
    "Strategy",
)


@dataclass(frozen=True, slots=True)
class Charge:
    """Requests admitted elsewhere, to be added to one key's counter.

    Attributes:
        key: The storage key.
        limit: Its limit.
        strategy: Its strategy.
        cost: The units to add.
    """

    key: str
    limit: Limit
    strategy: Strategy
    cost: int


class Store(Protocol):
    """The interface every counter store implements."""

    async def acquire(self, keys: Sequence[str], limits: Sequence[Limit], strategy: Strategy, cost: int) -> Outcome:
        """Decide one request against ``limits``, one storage key per limit."""
        ...  # pragma: no cover

    async def ping(self) -> None:
        """Raise when the store cannot serve decisions (used by the recovery probe)."""
        ...  # pragma: no cover

    async def prepare(self, connections: int = 1) -> None:
        """Open ``connections`` connections and load what decisions need (start-up, probes)."""
        ...  # pragma: no cover

    async def record(self, charges: Sequence[Charge]) -> None:
        """Add requests admitted elsewhere (by the fallback) to the store's counters."""
        ...  # pragma: no cover

    async def aclose(self) -> None:
        """Release connections."""
        ...  # pragma: no cover


class MemoryStore:
    """Counters in this process's memory: bounded, on a monotonic clock.

    At most ``max_keys`` keys are kept; past that, the least recently used key is
    evicted (like nginx's ``limit_req`` zone), so rotating keys cannot exhaust memory.
    An evicted key starts again with a full quota. Time comes from ``clock`` (default
    :func:`time.monotonic`), so wall-clock jumps neither reset nor extend windows. The
    arithmetic is :func:`hardening.ratelimit.windows.decide`.

    Args:
        max_keys: The most keys kept at once.
        clock: A monotonic clock in seconds.
    """

    def __init__(self, max_keys: int = 100_000, *, clock: Callable[[], float] = time.monotonic) -> None:
        if max_keys < 1:
            msg = "max_keys must be at least 1"
            raise ValueError(msg)
        self.max_keys = max_keys
        self.clock = clock
        """The store's clock (monotonic seconds)."""
        self._states: OrderedDict[str, Any] = OrderedDict()
        self.evictions = 0
        """Keys evicted so far to stay under ``max_keys``."""

    def __len__(self) -> int:
        return len(self._states)

    def clear(self) -> None:
        """Forget every counter."""
        self._states.clear()

    async def acquire(self, keys: Sequence[str], limits: Sequence[Limit], strategy: Strategy, cost: int) -> Outcome:
        """Decide one request (see :class:`Store`); never awaits, never fails."""
        return self.acquire_now(keys, limits, strategy, cost, self.clock())

    def acquire_now(
        self,
        keys: Sequence[str],
        limits: Sequence[Limit],
        strategy: Strategy,
        cost: int,
        now: float,
        *,
        force: bool = False,
    ) -> Outcome:
        """Decide one request at time ``now`` (seconds on this store's clock).

        With ``force`` the request is charged even when it does not fit (it was
        admitted elsewhere).
        """
        return decide([self._state(key, strategy) for key in keys], limits, strategy, cost, now, force=force)

    def _state(self, key: str, strategy: Strategy) -> Any:
        """The counter of ``key``, made most recently used (or created, evicting past the cap)."""
        states = self._states
        try:
            states.move_to_end(key)
        except KeyError:
            state = states[key] = new_state(strategy)
            if len(states) > self.max_keys:
                states.popitem(last=False)
                self.evictions += 1
            return state
        return states[key]

    async def ping(self) -> None:
        """Memory is always available."""

    async def prepare(self, connections: int = 1) -> None:
        """Nothing to open."""

    async def record(self, charges: Sequence[Charge]) -> None:
        """Charge each key (see :class:`Charge`)."""
        now = self.clock()
        for charge in charges:
            self.acquire_now((charge.key,), (charge.limit,), charge.strategy, charge.cost, now, force=True)

    async def aclose(self) -> None:
        """Nothing to release."""


class RedisStore:
    """Redis, Redis Sentinel or a Redis Cluster: one ``EVALSHA`` per decision, headers included.

    How the client reaches Redis is a link (:mod:`hardening.ratelimit._redis_links`): one
    server through a blocking pool, the master a Sentinel service names, or a Cluster's
    node for the decision's hash tag. Every link is built for a limiter: short connect
    and socket timeouts, no client-side retries (the circuit breaker decides what to do
    about failures), and a bounded number of connections. Building it does not touch the
    network, so the app starts with Redis down. ``NOSCRIPT`` after a restart is handled
    by loading the script and running it again.

    Args:
        uri: An ``async+redis://``, ``async+rediss://``, ``async+redis+unix://``,
            ``async+redis+sentinel://`` or ``async+redis+cluster://`` URI.
        connect_timeout: Seconds to open a connection, and to wait for a free one.
        socket_timeout: Seconds to wait for a reply (the probe's timeout bounds it too).
        max_connections: The pool size (a Cluster: commands in flight, over all nodes).
        key_prefix: Prefix of every key this store writes.
    """

    def __init__(
        self,
        uri: str,
        *,
        connect_timeout: float = 0.25,
        socket_timeout: float = 0.5,
        max_connections: int = 50,
        key_prefix: str = "hardening-rl",
    ) -> None:
        self.link: Any = build_link(
            uri, connect_timeout=connect_timeout, socket_timeout=socket_timeout, max_connections=max_connections
        )
        self.client: Any = self.link.client
        self.key_prefix = key_prefix
        self._scripts = {
            name: (sha1(body.encode(), usedforsecurity=False).hexdigest(), body) for name, body in SCRIPTS.items()
        }
        self._probe_key = [f"{key_prefix}:{{probe}}"]

    async def _run(self, strategy: Strategy, keys: Sequence[str], args: Sequence[int | str]) -> Any:
        """Run a decision script (one round trip; see the link's ``run``)."""
        sha, body = self._scripts[strategy]
        return await self.link.run(sha, body, keys, args)

    async def acquire(
        self,
        keys: Sequence[str],
        limits: Sequence[Limit],
        strategy: Strategy,
        cost: int,
        *,
        force: bool = False,
        at_ms: int | None = None,
    ) -> Outcome:
        """Decide one request with a single script call (see :class:`Store`).

        Args:
            keys: One key per limit (sharing a hash tag, for a Cluster).
            limits: The limits.
            strategy: The counting strategy.
            cost: Units the request uses.
            force: Charge the request even when it does not fit.
            at_ms: The decision's time in milliseconds instead of Redis' ``TIME``.
        """
        args: list[int | str] = ["" if at_ms is None else at_ms, cost, 1 if force else 0]
        for limit in limits:
            args.append(limit.amount)
            args.append(limit.window * 1000)
        reply = await self._run(strategy, keys, args)
        results = tuple(
            LimitResult(int(reply[1 + 2 * i]), max(0, int(reply[2 + 2 * i])) / 1000.0) for i in range(len(limits))
        )
        return Outcome(bool(int(reply[0])), results)

    async def ping(self) -> None:
        """Do what a request does: run a decision script that writes a key with a TTL.

        A Redis that answers ``PING`` but refuses writes (``maxmemory`` reached with
        ``noeviction``, a read-only replica after a failover) or cannot run scripts
        fails here as it would on the request path.
        """
        await self._run("fixed-window", self._probe_key, ["", 1, 1, 1, 1000])

    async def prepare(self, connections: int = 1) -> None:
        """Open ``connections`` connections (per Cluster node) and load the scripts.

        The limiter does this at start-up and before each probe's decisive write, under
        its own timeout, so the per-call deadline covers commands, not connecting (nor,
        on a Cluster, reading the slot map).
        """
        await self.link.open(connections)
        await self.link.load(SCRIPTS.values())

    async def record(self, charges: Sequence[Charge]) -> None:
        """Add what the fallback admitted to Redis' counters: load the scripts, then one pipeline."""
        if not charges:
            return
        await self.link.load(SCRIPTS.values())
        pipe = self.link.pipeline()
        for charge in charges:
            sha = self._scripts[charge.strategy][0]
            args = ["", charge.cost, 1, charge.limit.amount, charge.limit.window * 1000]
            pipe.execute_command("EVALSHA", sha, 1, charge.key, *args)
        await pipe.execute()

    async def aclose(self) -> None:
        """Close the client and every connection."""
        await self.link.aclose()


STORAGE_ERROR_NAMES: Final = frozenset(
    {
        "RedisError",
        "RedisClusterException",  # no cluster node reachable, slot not covered: not a RedisError
        "ValkeyError",
        "ValkeyClusterException",
        "StorageError",
        "PyMongoError",
        "MemcacheError",
        "MemcachioError",
    }
)
"""Exception class names (anywhere in the MRO) that mean "the store failed"."""
