"""Where the counters live.

A bounded in-memory store and Redis (one script call per decision); any other ``limits``
async storage is :class:`hardening.ratelimit._limits_store.LimitsStore`.

Every store answers one question, :meth:`Store.acquire`: may a request of ``cost`` pass
every limit of its policy? The answer is an :class:`Outcome`, with the remaining quota and
the time until more quota for each limit, so response headers cost no extra round trip.
Limits are "all or none": a request rejected by one limit consumes none of the others.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from hardening._imports import require
from hardening.ratelimit._lua import SCRIPTS
from hardening.ratelimit.windows import Limit, LimitResult, Outcome, Strategy, decide, new_state

if TYPE_CHECKING:
    pass

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


def _redis_url(uri: str) -> str:
    url = uri.removeprefix("async+")
    if url.startswith("redis+unix://"):
        url = "unix://" + url.removeprefix("redis+unix://")
    return url


class RedisStore:
    """Redis through ``redis.asyncio``: one ``EVALSHA`` per decision, headers included.

    The client is built for a limiter, not for a cache: short connect and socket
    timeouts, no client-side retries (the circuit breaker decides what to do about
    failures), and a bounded pool that waits at most ``socket_timeout`` for a free
    connection. Building it does not touch the network, so the app starts with Redis
    down. ``NOSCRIPT`` after a Redis restart is handled by reloading the script.

    Args:
        uri: An ``async+redis://``, ``async+rediss://`` or ``async+redis+unix://`` URI.
        connect_timeout: Seconds to open a connection, and to wait for a free one.
        socket_timeout: Seconds to wait for a reply (the probe's timeout bounds it too).
        max_connections: The pool size.
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
        aioredis = require("redis.asyncio", extra="redis", feature="rate limiting with Redis")
        retry_mod = require("redis.asyncio.retry", extra="redis", feature="rate limiting with Redis")
        backoff = require("redis.backoff", extra="redis", feature="rate limiting with Redis")
        self._errors = require("redis.exceptions", extra="redis", feature="rate limiting with Redis")
        # No CLIENT SETINFO on connect: a new connection costs the TCP handshake alone.
        quiet: dict[str, Any] = (
            {"driver_info": None}
            if "driver_info" in inspect.signature(aioredis.connection.AbstractConnection.__init__).parameters
            else {"lib_name": None, "lib_version": None}
        )
        pool = aioredis.BlockingConnectionPool.from_url(
            _redis_url(uri),
            max_connections=max_connections,
            timeout=connect_timeout,
            socket_connect_timeout=connect_timeout,
            socket_timeout=socket_timeout,
            retry=retry_mod.Retry(backoff.NoBackoff(), 0),
            **quiet,
        )
        self.pool: Any = pool
        self.client: Any = aioredis.Redis(connection_pool=pool)
        self.key_prefix = key_prefix
        self._scripts = {name: self.client.register_script(body) for name, body in SCRIPTS.items()}
        self._probe_key = [f"{key_prefix}:{{probe}}"]

    async def _run(self, strategy: Strategy, keys: Sequence[str], args: Sequence[int | str]) -> Any:
        """Run a decision script on one pooled connection (one round trip).

        ``NOSCRIPT`` (Redis restarted empty) loads the script on the same connection; a
        connection whose reply may be half read (timeout, cancellation) is closed, never
        reused.
        """
        script = self._scripts[strategy]
        connection = await self.pool.get_connection()
        try:
            await connection.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
            try:
                return await connection.read_response()
            except self._errors.NoScriptError:
                await connection.send_command("SCRIPT", "LOAD", script.script)
                await connection.read_response()
                await connection.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
                return await connection.read_response()
        except self._errors.ResponseError:
            raise  # a whole reply was read: the connection is fine
        except BaseException:
            await connection.disconnect()  # a reply may be half read: never reuse it
            raise
        finally:
            await self.pool.release(connection)

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
            keys: One key per limit.
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
        """Open ``connections`` pooled connections and load the scripts (one round trip).

        The limiter does this at start-up and before each probe's decisive write, under
        its own timeout, so the per-call deadline covers commands, not connecting.
        """
        opened = await asyncio.gather(
            *(self.pool.get_connection() for _ in range(max(1, connections))), return_exceptions=True
        )
        for connection in opened:
            if not isinstance(connection, BaseException):
                await self.pool.release(connection)
        for connection in opened:
            if isinstance(connection, BaseException):
                raise connection
        pipe = self.client.pipeline(transaction=False)
        for body in SCRIPTS.values():
            pipe.script_load(body)
        await pipe.execute()

    async def record(self, charges: Sequence[Charge]) -> None:
        """Add what the fallback admitted to Redis' counters, in one pipelined round trip."""
        if not charges:
            return
        pipe = self.client.pipeline(transaction=False)
        for charge in charges:
            args = ["", charge.cost, 1, charge.limit.amount, charge.limit.window * 1000]
            await self._scripts[charge.strategy](keys=[charge.key], args=args, client=pipe)
        await pipe.execute()

    async def aclose(self) -> None:
        """Close the client and every pooled connection."""
        await self.client.aclose()
        await self.pool.disconnect()


STORAGE_ERROR_NAMES: Final = frozenset(
    {"RedisError", "ValkeyError", "StorageError", "PyMongoError", "MemcacheError", "MemcachioError"}
)
"""Exception class names (anywhere in the MRO) that mean "the store failed"."""
