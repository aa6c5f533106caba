"""The window arithmetic of every strategy: the one definition of what a limit admits.

The memory store decides with these functions, and the Lua scripts of the Redis store
(:mod:`hardening.ratelimit._lua`) are line-for-line translations of them; a property
test runs both on the same hits against a real Redis and checks they decide alike.

Each strategy is a pair of functions over one counter's *state* (a small list owned by
the caller), the limit's ``amount`` and ``window``, the request's ``cost`` and the time
``now``. They read no clock and do no I/O, and work in any unit of time, provided
``window`` and ``now`` share it: the memory store uses seconds (floats), the scripts
integer milliseconds, where the arithmetic is exact.

* ``fits(state, amount, window, cost, now)`` rolls the counter over to ``now`` and says
  whether ``cost`` more units fit.
* ``take(state, amount, window, cost, now, allowed)`` charges ``cost`` when ``allowed``
  and returns ``(remaining, reset)``: the quota left and the time until more is free.

:func:`decide` applies them to every limit of a policy, all or none: every counter is
rolled over and weighed before any is charged, so a rejected request consumes nothing.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = ("STRATEGIES", "Limit", "LimitResult", "Outcome", "Strategy", "WindowFunctions", "decide", "new_state")

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

    def __init__(self, remaining: int, reset: float) -> None:  # by hand: see slot_setters
        _set_remaining(self, remaining)
        _set_reset(self, reset)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A store's decision for one request.

    Attributes:
        allowed: Whether every limit admitted the request.
        results: One :class:`LimitResult` per limit, in the policy's order.
    """

    allowed: bool
    results: tuple[LimitResult, ...]

    def __init__(self, allowed: bool, results: tuple[LimitResult, ...]) -> None:  # by hand: see slot_setters
        _set_allowed(self, allowed)
        _set_results(self, results)


def slot_setters(cls: type, *names: str) -> tuple[Callable[[Any, Any], None], ...]:
    """Return the ``__set__`` of each named slot of a frozen dataclass.

    The objects built on every request (:class:`LimitResult`, :class:`Outcome`, the
    limiter's ``Decision``) write their ``__init__`` with these: a generated frozen
    ``__init__`` sets each field through ``object.__setattr__``, about twice the cost.
    They stay frozen, equal, hashable and printable.
    """
    return tuple(cls.__dict__[name].__set__ for name in names)


_set_remaining, _set_reset = slot_setters(LimitResult, "remaining", "reset")
_set_allowed, _set_results = slot_setters(Outcome, "allowed", "results")


Fits = Callable[[Any, int, float, int, float], bool]
Take = Callable[[Any, int, float, int, float, bool], tuple[int, float]]


# --------------------------------------------------------------------------- fixed window
# state: [count, end of the window]; a window starts at the first request after the
# previous one ended, admitted or not.


def _fixed_fits(state: list[Any], amount: int, window: float, cost: int, now: float) -> bool:
    if now >= state[1]:
        state[0] = 0
        state[1] = now + window
    return bool(state[0] + cost <= amount)


def _fixed_take(
    state: list[Any], amount: int, window: float, cost: int, now: float, allowed: bool
) -> tuple[int, float]:
    if allowed:
        state[0] += cost
    remaining = amount - state[0]
    return (remaining if remaining > 0 else 0), state[1] - now


# --------------------------------------------------------------------------- moving window
# state: a deque of hit times, oldest first; a hit counts while it is younger than the window.


def _moving_fits(hits: deque[float], amount: int, window: float, cost: int, now: float) -> bool:
    horizon = now - window
    while hits and hits[0] <= horizon:
        hits.popleft()
    return len(hits) + cost <= amount


def _moving_take(
    hits: deque[float], amount: int, window: float, cost: int, now: float, allowed: bool
) -> tuple[int, float]:
    if allowed:
        hits.extend([now] * cost)
        while len(hits) > amount:  # a forced charge past the limit keeps the newest (the scripts' LTRIM)
            hits.popleft()
        reset = hits[0] + window - now
    else:
        expire = len(hits) + cost - amount  # hits that must leave the window first
        reset = hits[expire - 1] + window - now if 0 < expire <= len(hits) else window
    remaining = amount - len(hits)
    return (remaining if remaining > 0 else 0), reset


# --------------------------------------------------------------------------- sliding window counter
# state: [window index, count in it, count in the previous one]. The previous window
# weighs (window - elapsed) / window; every comparison is multiplied by ``window`` so it
# stays exact in integers (the scripts' milliseconds).


def _sliding_used(state: list[Any], window: float, now: float) -> float:
    """Roll the counter over to ``now``; return its weighted count times ``window``."""
    index = now // window
    if index != state[0]:
        state[2] = state[1] if index == state[0] + 1 else 0
        state[1] = 0
        state[0] = index
    return state[2] * (window - (now - index * window)) + state[1] * window  # type: ignore[no-any-return]


def _sliding_fits(state: list[Any], amount: int, window: float, cost: int, now: float) -> bool:
    return _sliding_used(state, window, now) + cost * window <= amount * window


def _sliding_take(
    state: list[Any], amount: int, window: float, cost: int, now: float, allowed: bool
) -> tuple[int, float]:
    used = _sliding_used(state, window, now)
    left = window - (now - state[0] * window)  # until the current window ends
    reset = left
    if allowed:
        state[1] += cost
        used += cost * window
    else:
        excess = used + cost * window - amount * window
        previous = state[2]
        if 0 < excess <= previous * left:  # this limit rejected; the previous window's decay frees enough
            reset = excess / previous
    remaining = int((amount * window - used) // window)
    return (remaining if remaining > 0 else 0), reset


@dataclass(frozen=True, slots=True)
class WindowFunctions:
    """The two functions of one strategy, and its empty state."""

    fits: Fits
    take: Take
    new: Callable[[], Any]


STRATEGIES: Final[dict[str, WindowFunctions]] = {
    "fixed-window": WindowFunctions(_fixed_fits, _fixed_take, lambda: [0, -math.inf]),
    "moving-window": WindowFunctions(_moving_fits, _moving_take, deque),
    "sliding-window-counter": WindowFunctions(_sliding_fits, _sliding_take, lambda: [-1, 0, 0]),
}
"""The window functions of each strategy."""


def new_state(strategy: Strategy) -> Any:
    """Return the empty counter state of ``strategy``."""
    return STRATEGIES[strategy].new()


def decide(
    states: Sequence[Any], limits: Sequence[Limit], strategy: Strategy, cost: int, now: float, *, force: bool = False
) -> Outcome:
    """Decide one request against every limit, all or none.

    Args:
        states: One counter state per limit (changed in place).
        limits: The limits, in the policy's order.
        strategy: The counting strategy.
        cost: Units this request uses.
        now: The time, in the unit of the limits' windows.
        force: Charge the request even when it does not fit (record a request another
            store admitted); the outcome then says it was allowed.
    """
    functions = STRATEGIES[strategy]
    fits, take = functions.fits, functions.take
    if len(limits) == 1:  # the usual policy, without the loops
        state, limit = states[0], limits[0]
        allowed = fits(state, limit.amount, limit.window, cost, now) or force  # fits rolls over: always
        return Outcome(allowed, (LimitResult(*take(state, limit.amount, limit.window, cost, now, allowed)),))
    allowed = True
    for state, limit in zip(states, limits, strict=True):
        if not fits(state, limit.amount, limit.window, cost, now):
            allowed = False
    allowed = allowed or force
    return Outcome(
        allowed,
        tuple(
            [
                LimitResult(*take(state, limit.amount, limit.window, cost, now, allowed))
                for state, limit in zip(states, limits, strict=True)
            ]
        ),
    )
