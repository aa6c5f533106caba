"""The common case, admitted without the generic machinery.

Most requests are decided under one policy with one limit, counted by the
sliding-window counter in this process's memory, and admitted. The generic path builds
a list of storage keys, a list of counter states, a ``LimitResult``, an ``Outcome`` and a
``Decision`` only to render two headers from them; per request that costs more than the
rest of the layer. :func:`admitter` compiles, once per policy, a function that does the
same arithmetic as :meth:`MemoryStore.acquire_now` inline and renders the headers
directly.

It admits or steps aside: a request that would be limited (or shadow-limited) changes no
count, and the generic path decides it and builds the ``Decision`` its answer needs.
What the fast path did to the counter before stepping aside (rolling its window over to
the current time, creating it, marking it recently used) is what the generic path does
first anyway.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

from starlette.types import Scope

from hardening._asgi import RawHeaders
from hardening.ratelimit.policy import Policy
from hardening.ratelimit.stores import MemoryStore

__all__ = ("Admit", "admitter")

Admit = Callable[[Scope], RawHeaders | None]
"""Admit a request and return its rate-limit headers, or return ``None`` having counted
nothing (the generic path must decide)."""

_KEYS_CACHE: Final = 8192
_EXACT: Final = 2**53


def admitter(
    policy: Policy, memory: MemoryStore | None, admitted: list[int], *, ietf: bool, legacy: bool
) -> Admit | None:
    """Return the fast path of ``policy``, or ``None`` when it has none.

    It has one when the counters are in ``memory`` (the primary store), the policy has
    one limit, counts with the sliding-window counter and its key function needs no
    ``await``.

    Args:
        policy: The compiled policy.
        memory: The primary store when it is a :class:`MemoryStore`, else ``None``.
        admitted: The limiter's count of requests admitted here (its one item), which
            the limiter adds to its ``allowed`` counter when it is read.
        ietf: Render the IETF ``RateLimit-Policy`` / ``RateLimit`` headers.
        legacy: Render ``X-RateLimit-*``.
    """
    sync_key = policy.sync_key
    if memory is None or sync_key is None or policy.strategy != "sliding-window-counter" or len(policy.limits) != 1:
        return None
    limit = policy.limits[0]
    if limit.window > _EXACT:
        return None  # as a float below, it would be rounded
    # Everything the request needs, bound to locals of the closure once.
    data = memory._data
    touch = data.move_to_end
    new_state = memory._new_state
    clock = memory._clock
    amount, cost = limit.amount, policy.cost
    # A float window spares mixed int/float arithmetic (slower in CPython); the values
    # are the same, as every integer below 2**53 is exact as a float.
    window = float(limit.window)
    storage_keys = policy.storage_keys
    keys: dict[str, str] = {}  # identity -> storage key
    policy_pair = (b"ratelimit-policy", policy.policy_header)
    prefix = policy.item_prefixes[0].encode("latin-1")  # b'"name";r='
    legacy_limit = str(amount).encode()
    floor, ceil = math.floor, math.ceil

    def storage_key(identity: str) -> str:
        if len(keys) >= _KEYS_CACHE:
            keys.clear()
        key = keys[identity] = storage_keys(identity)[0]
        return key

    def admit(scope: Scope) -> RawHeaders | None:
        identity = sync_key(scope)
        try:
            key = keys[identity]
        except KeyError:
            key = storage_key(identity)
        try:
            state = data[key]  # [window index, current count, previous count]
        except KeyError:
            state = new_state(key, "sliding-window-counter")
        else:
            touch(key)  # most recently used
        # As stores._sliding_count and stores._sliding_result, for one admitted request.
        now = clock()
        index = floor(now / window)
        if index != state[0]:
            state[2] = state[1] if index == state[0] + 1 else 0
            state[1] = 0
            state[0] = index
        elapsed = now - index * window
        weighted = state[2] * (window - elapsed) / window + state[1] + cost
        if weighted > amount:
            return None
        state[1] += cost
        admitted[0] += 1  # a list item: cheaper than counting in the Counter, folded in there later
        remaining = floor(amount - weighted)
        if remaining < 0:
            remaining = 0
        reset = ceil(window - elapsed)
        headers: RawHeaders = [policy_pair, (b"ratelimit", b"%b%d;t=%d" % (prefix, remaining, reset))] if ietf else []
        if legacy:
            headers.append((b"x-ratelimit-limit", legacy_limit))
            headers.append((b"x-ratelimit-remaining", str(remaining).encode()))
            headers.append((b"x-ratelimit-reset", str(reset).encode()))
        return headers

    return admit
