"""The Lua scripts decide exactly like the window functions, against a REAL Redis.

The memory store (and the fallback) decide with :mod:`hardening.ratelimit.windows`; the
Redis store runs the translations of those functions in :mod:`hardening.ratelimit._lua`.
For any sequence of hits (time, cost, forced or not) both must admit the same requests and
report the same remaining quota and reset time, for every strategy and for policies of two
limits (all or none); on one Redis and through the cluster client on a Redis Cluster, where
the keys of one decision (and the sliding window's per-window keys) share a hash tag.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardening.ratelimit import RedisStore
from hardening.ratelimit.policy import Policy
from hardening.ratelimit.windows import Limit, Strategy, decide, new_state
from tests.servers import RedisClusterGroup, RedisServer

pytestmark = [pytest.mark.redis]

STRATEGIES: list[Strategy] = ["fixed-window", "moving-window", "sliding-window-counter"]


# Any hits (time gap in ms, cost, forced or not) against 1-2 limits, from any start time.
_HITS = given(
    strategy=st.sampled_from(STRATEGIES),
    limits=st.lists(st.tuples(st.integers(1, 6), st.sampled_from([1, 2, 5])), min_size=1, max_size=2),
    start=st.integers(0, 10**7),
    hits=st.lists(st.tuples(st.integers(0, 2500), st.integers(1, 4), st.booleans()), min_size=1, max_size=30),
)


def _examples(count: int) -> settings:
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@_examples(200)
@_HITS
def test_lua_and_python_decide_alike(
    redis_server: RedisServer,
    strategy: Strategy,
    limits: list[tuple[int, int]],
    start: int,
    hits: list[tuple[int, int, bool]],
) -> None:
    asyncio.run(_compare(redis_server.url, strategy, limits, start, hits))


@_examples(40)
@_HITS
def test_lua_and_python_decide_alike_on_a_cluster(
    redis_cluster: RedisClusterGroup,
    strategy: Strategy,
    limits: list[tuple[int, int]],
    start: int,
    hits: list[tuple[int, int, bool]],
) -> None:
    asyncio.run(_compare(redis_cluster.url, strategy, limits, start, hits))


@settings(max_examples=300, deadline=None)
@given(
    identity=st.text(),
    amounts=st.lists(st.integers(1, 1000), min_size=1, max_size=3),
    strategy=st.sampled_from(STRATEGIES),
    prefix=st.text(st.characters(blacklist_characters="{}"), min_size=1, max_size=20),
    index=st.integers(0, 10**9),
)
def test_one_decisions_keys_share_a_cluster_slot(
    identity: str, amounts: list[int], strategy: Strategy, prefix: str, index: int
) -> None:
    """Whatever the identity (braces included), every key of one decision hashes to one slot."""
    from redis.crc import key_slot

    limits = tuple(Limit(amount, 60 * (n + 1), "x") for n, amount in enumerate(amounts))
    keys = _policy(limits, strategy, prefix).storage_keys(identity)
    slots = {key_slot(key.encode("utf-8", "surrogatepass")) for key in keys}
    slots |= {key_slot(f"{key}:{index}".encode("utf-8", "surrogatepass")) for key in keys}  # sliding window
    assert len(slots) == 1


def _policy(limits: tuple[Limit, ...], strategy: Strategy, prefix: str) -> Policy:
    async def key(scope: Any) -> str:
        return ""  # pragma: no cover - storage_keys is given the identity

    return Policy.compile(
        "default",
        limits,
        limits,
        strategy=strategy,
        cost=1,
        keys=(key, None),
        failure_mode="fallback",
        shadow=False,
        key_prefix=prefix,
    )


async def _compare(
    url: str,
    strategy: Strategy,
    pairs: list[tuple[int, int]],
    start: int,
    hits: list[tuple[int, int, bool]],
) -> None:
    store = RedisStore("async+" + url)
    tag = uuid.uuid4().hex
    keys = [f"t:{{{tag}}}:{i}" for i in range(len(pairs))]
    seconds = [Limit(amount, window, "x") for amount, window in pairs]  # what the Redis store is given
    millis = [Limit(amount, window * 1000, "x") for amount, window in pairs]  # the same, in ms
    states: list[Any] = [new_state(strategy) for _ in pairs]
    now = start
    try:
        for gap, cost, force in hits:
            now += gap
            lua = await store.acquire(keys, seconds, strategy, cost, at_ms=now, force=force)
            python = decide(states, millis, strategy, cost, now, force=force)
            assert lua.allowed == python.allowed, (now, cost)
            for from_lua, from_python in zip(lua.results, python.results, strict=True):
                assert from_lua.remaining == from_python.remaining
                assert round(from_lua.reset * 1000) == math.ceil(from_python.reset)
    finally:
        await store.aclose()
