"""Where the counters live.

A bounded in-memory store, Redis (one script call per decision) and any other
``limits`` async storage.

Every store answers one question, :meth:`Store.acquire`: may a request of ``cost`` pass
every limit of its policy? The answer is an :class:`Outcome`, with the remaining quota and
the time until more quota for each limit, so response headers cost no extra round trip.
Limits are "all or none": a request rejected by one limit consumes none of the others.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from hardening._imports import require
from hardening.ratelimit._lua import PING_SCRIPT, SCRIPTS
from hardening.ratelimit._slots import slot_setters

if TYPE_CHECKING:
    from limits import RateLimitItem

__all__ = (
    "Limit",
    "LimitResult",
    "LimitsStore",
    "MemoryStore",
    "Outcome",
    "RedisStore",
    "Store",
    "Strategy",
)

Strategy = Literal["fixed-window", "moving-window", "sliding-window-counter"]
"""How requests are counted: fixed windows anchored at the first hit, an exact moving
window (a log of hits), or a sliding window counter (two weighted fixed windows)."""


@dataclass(frozen=True, slots=True)
class Limit:
    """One parsed limit: ``amount`` requests per ``window`` seconds.

    Attributes:
        amount: How many requests (cost units) the window allows.
        window: The window length in seconds.
        text: The limit as written, for example ``"10 per 1 second"``.
    """

    amount: int
    window: int
    text: str

    def scaled(self, divisor: int) -> Limit:
        """Return this limit with ``amount`` divided by ``divisor`` (at least 1)."""
        if divisor <= 1:
            return self
        amount = max(1, math.ceil(self.amount / divisor))
        return Limit(amount, self.window, f"{amount} per {self.window} second")


@dataclass(frozen=True, slots=True)
class LimitResult:
    """The state of one limit after a decision.

    Attributes:
        remaining: Quota left in the window, after this request when it was admitted.
        reset: Seconds until more quota becomes available.
    """

    remaining: int
    reset: float

    def __init__(self, remaining: int, reset: float) -> None:  # by hand: see _slots
        _set_remaining(self, remaining)
        _set_reset(self, reset)


_set_remaining, _set_reset = slot_setters(LimitResult, "remaining", "reset")


@dataclass(frozen=True, slots=True)
class Outcome:
    """A store's decision for one request.

    Attributes:
        allowed: Whether every limit admitted the request.
        results: One :class:`LimitResult` per limit, in the policy's order.
    """

    allowed: bool
    results: tuple[LimitResult, ...]

    def __init__(self, allowed: bool, results: tuple[LimitResult, ...]) -> None:  # by hand: see _slots
        _set_allowed(self, allowed)
        _set_results(self, results)


_set_allowed, _set_results = slot_setters(Outcome, "allowed", "results")


class Store(Protocol):
    """The interface every counter store implements."""

    async def acquire(self, keys: Sequence[str], limits: Sequence[Limit], strategy: Strategy, cost: int) -> Outcome:
        """Decide one request against ``limits``, one storage key per limit."""
        ...  # pragma: no cover

    async def ping(self) -> None:
        """Raise when the store cannot serve decisions (used by the recovery probe)."""
        ...  # pragma: no cover

    async def aclose(self) -> None:
        """Release connections."""
        ...  # pragma: no cover


class MemoryStore:
    """Counters in this process's memory: bounded, on a monotonic clock.

    At most ``max_keys`` keys are kept; past that, the least recently used key is
    evicted (like nginx's ``limit_req`` zone), so rotating keys cannot exhaust memory.
    An evicted key starts again with a full quota. Time comes from ``clock`` (default
    :func:`time.monotonic`), so wall-clock jumps neither reset nor extend windows.

    Args:
        max_keys: The most keys kept at once.
        clock: A monotonic clock in seconds.
    """

    def __init__(self, max_keys: int = 100_000, *, clock: Callable[[], float] = time.monotonic) -> None:
        if max_keys < 1:
            msg = "max_keys must be at least 1"
            raise ValueError(msg)
        self.max_keys = max_keys
        self._clock = clock
        self._data: OrderedDict[str, Any] = OrderedDict()
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        """Forget every counter."""
        self._data.clear()

    async def acquire(self, keys: Sequence[str], limits: Sequence[Limit], strategy: Strategy, cost: int) -> Outcome:
        """Decide one request (see :class:`Store`); never awaits, never fails."""
        return self.acquire_now(keys, limits, strategy, cost, self._clock())

    def acquire_now(
        self, keys: Sequence[str], limits: Sequence[Limit], strategy: Strategy, cost: int, now: float
    ) -> Outcome:
        """Decide one request at time ``now`` (seconds on this store's clock)."""
        data = self._data
        states = []
        for key in keys:
            state = data.get(key)
            if state is None:
                state = self._new_state(key, strategy)
            else:
                data.move_to_end(key)  # most recently used
            states.append(state)
        if strategy == "sliding-window-counter":
            return self._sliding(states, limits, cost, now)
        if strategy == "fixed-window":
            return self._fixed(states, limits, cost, now)
        return self._moving(states, limits, cost, now)

    async def ping(self) -> None:
        """Memory is always available."""

    async def aclose(self) -> None:
        """Nothing to release."""

    def _new_state(self, key: str, strategy: Strategy) -> Any:
        """Add the empty counter of ``key``, evicting the least recently used past ``max_keys``."""
        data = self._data
        state: Any
        if strategy == "fixed-window":
            state = [0, 0.0]  # count, expires at
        elif strategy == "moving-window":
            state = deque()  # hit times, oldest first
        else:
            state = [-1, 0, 0]  # window index, current count, previous count
        data[key] = state
        if len(data) > self.max_keys:
            data.popitem(last=False)
            self.evictions += 1
        return state

    @staticmethod
    def _fixed(states: list[Any], limits: Sequence[Limit], cost: int, now: float) -> Outcome:
        allowed = True
        for state, limit in zip(states, limits, strict=True):
            if now >= state[1]:
                state[0], state[1] = 0, now + limit.window
            if state[0] + cost > limit.amount:
                allowed = False
        results = []
        for state, limit in zip(states, limits, strict=True):
            if allowed:
                state[0] += cost
            results.append(LimitResult(max(0, limit.amount - state[0]), state[1] - now))
        return Outcome(allowed, tuple(results))

    @staticmethod
    def _moving(states: list[Any], limits: Sequence[Limit], cost: int, now: float) -> Outcome:
        allowed = True
        for hits, limit in zip(states, limits, strict=True):
            horizon = now - limit.window
            while hits and hits[0] <= horizon:
                hits.popleft()
            if len(hits) + cost > limit.amount:
                allowed = False
        results = []
        for hits, limit in zip(states, limits, strict=True):
            if allowed:
                hits.extend([now] * cost)
                reset = hits[0] + limit.window - now
            else:
                expire = len(hits) + cost - limit.amount  # hits that must leave the window
                reset = hits[expire - 1] + limit.window - now if 0 < expire <= len(hits) else limit.window
            results.append(LimitResult(max(0, limit.amount - len(hits)), reset))
        return Outcome(allowed, tuple(results))

    @staticmethod
    def _sliding(states: list[Any], limits: Sequence[Limit], cost: int, now: float) -> Outcome:
        if len(states) == 1:  # the common case, without the loops
            state, limit = states[0], limits[0]
            weighted = _sliding_count(state, limit.window, now)
            allowed = weighted + cost <= limit.amount
            return Outcome(allowed, (_sliding_result(state, limit, cost, now, weighted, allowed),))
        # Every counter is rolled over and weighed before any is charged (all or none).
        counts = [_sliding_count(state, limit.window, now) for state, limit in zip(states, limits, strict=True)]
        allowed = all(weighted + cost <= limit.amount for weighted, limit in zip(counts, limits, strict=True))
        return Outcome(
            allowed,
            tuple(
                [
                    _sliding_result(state, limit, cost, now, weighted, allowed)
                    for state, limit, weighted in zip(states, limits, counts, strict=True)
                ]
            ),
        )


def _sliding_count(state: list[int], window: int, now: float) -> float:
    """Roll a sliding-window counter over to ``now``; return its weighted count."""
    index = math.floor(now / window)
    if index != state[0]:
        state[2] = state[1] if index == state[0] + 1 else 0
        state[1] = 0
        state[0] = index
    elapsed = now - index * window
    return state[2] * (window - elapsed) / window + state[1]


def _sliding_result(
    state: list[int], limit: Limit, cost: int, now: float, weighted: float, allowed: bool
) -> LimitResult:
    """Charge an admitted request and describe a counter that :func:`_sliding_count` weighed."""
    window = limit.window
    reset = window - (now - state[0] * window)
    if allowed:
        state[1] += cost
        weighted += cost
    else:
        excess = weighted + cost - limit.amount
        prev = state[2]
        if prev > 0 and excess <= prev * reset / window:
            reset = excess * window / prev
    remaining = math.floor(limit.amount - weighted)
    return LimitResult(remaining if remaining > 0 else 0, reset)


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
        connect_timeout: Seconds to wait for a TCP connection.
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
        pool = aioredis.BlockingConnectionPool.from_url(
            _redis_url(uri),
            max_connections=max_connections,
            timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
            socket_timeout=socket_timeout,
            retry=retry_mod.Retry(backoff.NoBackoff(), 0),
        )
        self.pool: Any = pool
        self.client: Any = aioredis.Redis(connection_pool=pool)
        self.key_prefix = key_prefix
        self._scripts = {name: self.client.register_script(body) for name, body in SCRIPTS.items()}
        self._ping_script = self.client.register_script(PING_SCRIPT)

    async def acquire(self, keys: Sequence[str], limits: Sequence[Limit], strategy: Strategy, cost: int) -> Outcome:
        """Decide one request with a single script call (see :class:`Store`)."""
        args: list[int] = [cost]
        for limit in limits:
            args.append(limit.amount)
            args.append(limit.window * 1000)
        reply = await self._scripts[strategy](keys=list(keys), args=args)
        results = tuple(
            LimitResult(int(reply[1 + 2 * i]), max(0, int(reply[2 + 2 * i])) / 1000.0) for i in range(len(limits))
        )
        return Outcome(bool(int(reply[0])), results)

    async def ping(self) -> None:
        """Run ``PING`` and a tiny script: the store works only when both do."""
        await self.client.ping()
        await self._ping_script()

    async def aclose(self) -> None:
        """Close the client and every pooled connection."""
        await self.client.aclose()
        await self.pool.disconnect()


class LimitsStore:
    """Any other ``limits`` async storage, through ``limits``' own strategies.

    Memcached, valkey, MongoDB, Redis Cluster or Sentinel.

    This costs one ``hit`` per limit plus one ``get_window_stats`` per limit, so it makes
    more round trips than :class:`RedisStore`; limits are checked in order and a
    rejected request may have consumed the limits before the one that rejected it.

    Args:
        uri: A ``limits`` async storage URI, for example ``async+memcached://host:11211``.
        key_prefix: The ``limits`` namespace of the keys.
    """

    def __init__(self, uri: str, *, key_prefix: str = "hardening-rl") -> None:
        storage_mod = require("limits.aio.storage", extra="ratelimit", feature="rate limiting")
        strategies = require("limits.aio.strategies", extra="ratelimit", feature="rate limiting")
        self._limits = require("limits", extra="ratelimit", feature="rate limiting")
        self.storage: Any = storage_mod.storage_from_string(uri, wrap_exceptions=True)
        self._strategies: dict[str, Any] = {
            "fixed-window": strategies.FixedWindowRateLimiter(self.storage),
            "moving-window": strategies.MovingWindowRateLimiter(self.storage),
            "sliding-window-counter": strategies.SlidingWindowCounterRateLimiter(self.storage),
        }
        self._items: dict[Limit, RateLimitItem] = {}
        self.key_prefix = key_prefix

    def _item(self, limit: Limit) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            item = self._limits.RateLimitItemPerSecond(limit.amount, limit.window, namespace=self.key_prefix)
            self._items[limit] = item
        return item

    async def acquire(self, keys: Sequence[str], limits: Sequence[Limit], strategy: Strategy, cost: int) -> Outcome:
        """Decide one request through ``limits`` (see the class notes on round trips)."""
        limiter = self._strategies[strategy]
        allowed = True
        for key, limit in zip(keys, limits, strict=True):
            if not await limiter.hit(self._item(limit), key, cost=cost):
                allowed = False
                break
        results = []
        now = time.time()
        for key, limit in zip(keys, limits, strict=True):
            stats = await limiter.get_window_stats(self._item(limit), key)
            results.append(LimitResult(max(0, int(stats.remaining)), max(0.0, stats.reset_time - now)))
        return Outcome(allowed, tuple(results))

    async def ping(self) -> None:
        """Raise unless ``limits``' ``check()`` passes."""
        if not await self.storage.check():
            msg = "rate-limit storage check failed"
            raise ConnectionError(msg)

    async def aclose(self) -> None:
        """``limits`` storages hold no resource that needs closing here."""


STORAGE_ERROR_NAMES: Final = frozenset(
    {"RedisError", "ValkeyError", "StorageError", "PyMongoError", "MemcacheError", "MemcachioError"}
)
"""Exception class names (anywhere in the MRO) that mean "the store failed"."""
