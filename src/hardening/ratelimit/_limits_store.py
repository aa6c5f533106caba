"""Any other ``limits`` async storage (Memcached, Valkey, MongoDB)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hardening._imports import require
from hardening.ratelimit.stores import Charge
from hardening.ratelimit.windows import Limit, LimitResult, Outcome, Strategy

if TYPE_CHECKING:
    from limits import RateLimitItem

__all__ = ("LimitsStore",)


class LimitsStore:
    """Any other ``limits`` async storage, through ``limits``' own strategies.

    Memcached, Valkey (its client, also for Valkey Sentinel and Cluster) or MongoDB; Redis,
    Redis Sentinel and Redis Cluster go through :class:`RedisStore` instead.

    This costs one ``hit`` per limit plus one ``get_window_stats`` per limit, so it makes
    more round trips than :class:`RedisStore`; limits are checked in order and a
    rejected request may have consumed the limits before the one that rejected it.

    Args:
        uri: A ``limits`` async storage URI, for example ``async+memcached://host:11211``.
        key_prefix: The ``limits`` namespace of the keys.
    """

    def __init__(self, uri: str, *, key_prefix: str = "hardening-rl") -> None:
        storage_mod = require("limits.storage", extra="ratelimit", feature="rate limiting")
        strategies = require("limits.aio.strategies", extra="ratelimit", feature="rate limiting")
        self._limits = require("limits", extra="ratelimit", feature="rate limiting")
        options: dict[str, Any] = {"wrap_exceptions": True}
        if uri.startswith("async+redis"):  # given a Redis URI directly: redis-py, like RedisStore
            options["implementation"] = "redispy"
        self.storage: Any = storage_mod.storage_from_string(uri, **options)
        self._kinds: dict[str, Any] = {
            "fixed-window": strategies.FixedWindowRateLimiter,
            "moving-window": strategies.MovingWindowRateLimiter,
            "sliding-window-counter": strategies.SlidingWindowCounterRateLimiter,
        }
        self._strategies: dict[str, Any] = {}  # built when first used: not every storage has every one
        self._items: dict[Limit, RateLimitItem] = {}
        self.key_prefix = key_prefix

    def _strategy(self, strategy: Strategy) -> Any:
        found = self._strategies.get(strategy)
        if found is None:
            found = self._strategies[strategy] = self._kinds[strategy](self.storage)
        return found

    def _item(self, limit: Limit) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            item = self._limits.RateLimitItemPerSecond(limit.amount, limit.window, namespace=self.key_prefix)
            self._items[limit] = item
        return item

    async def acquire(self, keys: Sequence[str], limits: Sequence[Limit], strategy: Strategy, cost: int) -> Outcome:
        """Decide one request through ``limits`` (see the class notes on round trips)."""
        limiter = self._strategy(strategy)
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
        """Do what a request does: hit a probe key (a write with a TTL) through ``limits``."""
        probe = self._limits.RateLimitItemPerSecond(1_000_000, 1, namespace=self.key_prefix)
        await self._strategy("fixed-window").hit(probe, "{probe}")

    async def prepare(self, connections: int = 1) -> None:
        """Check the storage (``limits`` connects by itself)."""
        if not await self.storage.check():
            msg = "rate-limit storage check failed"
            raise ConnectionError(msg)

    async def record(self, charges: Sequence[Charge]) -> None:
        """Hit each key through ``limits`` (one round trip per charge)."""
        for charge in charges:
            await self._strategy(charge.strategy).hit(self._item(charge.limit), charge.key, cost=charge.cost)

    async def aclose(self) -> None:
        """Close the clients ``limits`` opened for its storage (``limits`` has no close).

        Redis: the redis-py clients, reached through the storage's
        ``bridge.get_connection()`` and, for Sentinel, redis-py's ``Sentinel.sentinels``.
        Memcached through memcachio: the client's connection pool (``bridge.get_storage()``,
        then memcachio's ``connection_pool.close()``). Other storages are left alone.
        """
        bridge = getattr(self.storage, "bridge", None)
        getter = getattr(bridge, "get_connection", None)
        if getter is not None:
            clients = [getter(False), getter(True), *getattr(getattr(bridge, "sentinel", None), "sentinels", ())]
            for client in clients:
                close = getattr(client, "aclose", None)
                if close is not None:
                    await close()
            return
        get_storage = getattr(bridge, "get_storage", None)
        if get_storage is not None:
            pool = getattr(await get_storage(), "connection_pool", None)
            close_pool = getattr(pool, "close", None)
            if close_pool is not None:
                close_pool()
