"""A circuit breaker around the primary store, with recovery probed off the request path.

States:

* ``closed``: requests go to the store, each call bounded by ``deadline``. A storage
  failure (timeout, connection error, any Redis error) counts; ``failure_threshold``
  consecutive failures open the breaker (calls that were in flight together count
  once). Other exceptions are bugs: they propagate and do not count.
* ``open``: requests never touch the store (zero calls on the request path); the policy's
  failure mode decides them. A background task probes the store: it does what a request
  does (a script that writes a key with a TTL, under the same ``deadline``), so a store
  that answers ``PING`` but refuses writes stays open. The first probe comes after the
  probe interval, which doubles each time the breaker re-opens soon after closing (up
  to ``max_probe_interval``), with +/-20% jitter so workers do not probe in step.
* ``half_open``: probes succeed; the breaker closes after ``recovery_probes`` good probes
  in a row spanning at least ``recovery_time`` seconds, and re-opens on the first bad
  one. Requests still stay off the store until it closes. Closing runs ``on_close``
  (the limiter hands the store what the fallback admitted); if that fails, the breaker
  stays open.

Each transition is logged once as a WARNING (logger ``hardening.ratelimit``) and counted
in the OpenTelemetry counter ``hardening.ratelimit.breaker.transitions`` when
``opentelemetry-api`` is installed; never once per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, Literal

import anyio

from hardening.ratelimit.stores import STORAGE_ERROR_NAMES, Store
from hardening.ratelimit.windows import Limit, Outcome, Strategy

__all__ = ("BreakerState", "CircuitBreaker", "is_storage_error")

BreakerState = Literal["closed", "open", "half_open"]
"""The circuit breaker's state."""

_JITTER: Final = 0.2
_logger = logging.getLogger("hardening.ratelimit")


def is_storage_error(exc: BaseException) -> bool:
    """Return whether ``exc`` means "the store failed" rather than "our code is wrong".

    Timeouts, OS and connection errors, and the error hierarchies of the store clients
    (``redis.RedisError``, ``limits.errors.StorageError``, ...) are storage failures.
    """
    if isinstance(exc, (TimeoutError, OSError, ConnectionError, asyncio.TimeoutError)):
        return True
    return any(cls.__name__ in STORAGE_ERROR_NAMES for cls in type(exc).__mro__)


def _transition_counter() -> Any:
    """The OpenTelemetry counter of transitions, or ``None`` without ``opentelemetry-api``."""
    try:
        from opentelemetry import metrics
    except ImportError:
        return None
    return metrics.get_meter("hardening.ratelimit").create_counter(
        "hardening.ratelimit.breaker.transitions", unit="{transition}", description="Circuit breaker transitions"
    )


class CircuitBreaker:
    """Guard a :class:`~hardening.ratelimit.stores.Store` with a deadline and a breaker.

    Args:
        store: The primary store.
        deadline: Seconds one store command may take (requests and probes).
        failure_threshold: Consecutive failures that open the breaker.
        recovery_probes: Consecutive good probes that close it.
        recovery_time: The least seconds those probes must span.
        probe_interval: Seconds before the first probe after opening.
        max_probe_interval: The most seconds between probes after repeated openings.
        probe_timeout: Seconds a probe may spend connecting and loading scripts.
        on_state_change: Called with ``(old, new)`` after each transition.
        on_close: Awaited before the breaker closes; a storage error keeps it open.
        clock: A monotonic clock in seconds.
    """

    def __init__(
        self,
        store: Store,
        *,
        deadline: float = 0.05,
        failure_threshold: int = 3,
        recovery_probes: int = 3,
        recovery_time: float = 3.0,
        probe_interval: float = 1.0,
        max_probe_interval: float = 30.0,
        probe_timeout: float = 0.5,
        on_state_change: Callable[[str, str], None] | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.deadline = deadline
        self.failure_threshold = failure_threshold
        self.recovery_probes = recovery_probes
        self.recovery_time = recovery_time
        self.probe_interval = probe_interval
        self.max_probe_interval = max(max_probe_interval, probe_interval)
        self.probe_timeout = probe_timeout
        self._on_state_change = on_state_change
        self._on_close = on_close
        self._clock = clock
        self.state: BreakerState = "closed"
        self._failures = 0
        self._last_failure = -float("inf")  # time.monotonic() of the last counted failure
        self._good: list[float] = []  # times of the current run of good probes
        self._backoff = 0  # doublings of the probe interval
        self._closed_at = -float("inf")
        self._probe_task: asyncio.Task[None] | None = None
        self._degraded_since: float | None = None
        self._shut = False
        self._otel = _transition_counter()
        self.degraded_seconds = 0.0
        self.calls = 0
        self.skipped_calls = 0
        self.errors: Counter[str] = Counter()
        self.transitions: Counter[str] = Counter()
        self.probes = 0
        self.last_error: str | None = None
        self._latency_total = 0.0
        self.latency_max = 0.0

    @property
    def available(self) -> bool:
        """Whether requests currently go to the store."""
        return self.state == "closed"

    @property
    def current_probe_interval(self) -> float:
        """Seconds between probes while open, after the backoff of repeated openings."""
        return min(self.probe_interval * 2.0**self._backoff, self.max_probe_interval)

    def degraded_for(self) -> float:
        """Seconds since the breaker opened, 0 when closed."""
        return 0.0 if self._degraded_since is None else self._clock() - self._degraded_since

    async def acquire(
        self, keys: Sequence[str], limits: Sequence[Limit], strategy: Strategy, cost: int
    ) -> Outcome | None:
        """Ask the store, or return ``None`` when it is unavailable or just failed."""
        if self.state != "closed":
            self.skipped_calls += 1
            return None
        self.calls += 1
        start = time.monotonic()
        try:
            with anyio.fail_after(self.deadline):
                outcome = await self.store.acquire(keys, limits, strategy, cost)
        except Exception as exc:
            if not is_storage_error(exc):
                raise
            self.record_failure(exc, started=start)
            return None
        finally:
            elapsed = time.monotonic() - start
            self._latency_total += elapsed
            self.latency_max = max(self.latency_max, elapsed)
        self._failures = 0
        return outcome

    def mean_latency(self) -> float:
        """Mean seconds per store call on the request path."""
        return self._latency_total / self.calls if self.calls else 0.0

    def record_failure(self, exc: BaseException, *, started: float | None = None) -> None:
        """Count a storage failure; open the breaker at ``failure_threshold`` in a row.

        A call ``started`` (``time.monotonic()``) before the previous counted failure
        was seen belongs to the same incident and does not count again: a burst of
        concurrent calls that missed the deadline together (a saturated event loop at
        start-up) is one failure, not a hundred.
        """
        name = type(exc).__name__
        self.errors[name] += 1
        self.last_error = name
        now = time.monotonic()
        if started is not None and started < self._last_failure:
            return
        self._last_failure = now
        self._failures += 1
        if self.state == "closed" and self._failures >= self.failure_threshold:
            now = self._clock()
            # Re-opening soon after closing means the store is flapping or slow: back off.
            self._backoff = self._backoff + 1 if now - self._closed_at < self.max_probe_interval else 0
            self._transition("open", reason=f"{self._failures} consecutive failures, last {name}")
            self._start_probe()

    def open_now(self, exc: BaseException) -> None:
        """Open the breaker at once (the store failed at start-up)."""
        self._failures = self.failure_threshold - 1
        self.record_failure(exc)

    def _transition(self, new: BreakerState, *, reason: str) -> None:
        old = self.state
        if old == new:
            return
        self.state = new
        self.transitions[f"{old}->{new}"] += 1
        now = self._clock()
        event = f"ratelimit.storage.{new}"
        if new == "open" and old == "closed":
            self._degraded_since = now
            event = "ratelimit.storage.degraded"
            message = "rate-limit storage unavailable (%s); each policy's failure mode decides until it recovers"
        elif new == "closed":
            duration = 0.0 if self._degraded_since is None else now - self._degraded_since
            self.degraded_seconds += duration
            self._degraded_since = None
            self._failures = 0
            self._closed_at = now
            event = "ratelimit.storage.recovered"
            message = f"rate-limit storage is back after {duration:.1f} s (%s)"
        else:
            message = "rate-limit storage %s"
        _logger.warning("%s: " + message, event, reason, extra={"event": event, "old_state": old, "new_state": new})
        if self._otel is not None:
            self._otel.add(1, {"from": old, "to": new})
        if self._on_state_change is not None:
            self._on_state_change(old, new)

    def _start_probe(self) -> None:
        if self._shut or (self._probe_task is not None and not self._probe_task.done()):
            return
        self._probe_task = asyncio.get_running_loop().create_task(self._probe_loop(), name="hardening-ratelimit-probe")

    @staticmethod
    def _jittered(seconds: float) -> float:
        return seconds * random.uniform(1 - _JITTER, 1 + _JITTER)

    async def _probe_ok(self) -> bool:
        self.probes += 1
        try:
            with anyio.fail_after(self.probe_timeout):
                await self.store.prepare()  # connecting and loading scripts may take longer
            with anyio.fail_after(self.deadline):
                await self.store.ping()  # what a request does, under its deadline
        except Exception as exc:  # any failure, even an odd one, keeps the breaker open
            self.errors[type(exc).__name__] += 1
            self.last_error = type(exc).__name__
            return False
        return True

    async def probe(self) -> float:
        """Probe the store once (the background task's step); return the delay before the next.

        Closes the breaker when enough good probes span ``recovery_time``, re-opens it on
        a bad one.
        """
        if self.state == "closed":
            return self.current_probe_interval
        if not await self._probe_ok():
            self._good.clear()
            self._transition("open", reason=f"probe failed ({self.last_error})")
            return self._jittered(self.current_probe_interval)
        now = self._clock()
        self._good.append(now)
        spread = now - self._good[0]
        if len(self._good) >= self.recovery_probes and spread >= self.recovery_time:
            try:
                if self._on_close is not None:
                    with anyio.fail_after(self.probe_timeout):
                        await self._on_close()
            except Exception as exc:
                if not is_storage_error(exc):
                    raise
                self._good.clear()
                self.errors[type(exc).__name__] += 1
                self.last_error = type(exc).__name__
                self._transition("open", reason=f"handing over the fallback's counts failed ({self.last_error})")
                return self._jittered(self.current_probe_interval)
            count = len(self._good)
            self._good.clear()
            self._transition("closed", reason=f"{count} good probes over {spread:.1f} s")
            return 0.0
        self._transition("half_open", reason=f"probe {len(self._good)} succeeded")
        steps = max(1, self.recovery_probes - 1)
        return max(self.recovery_time / steps, self.probe_interval / 5)

    async def _probe_loop(self) -> None:
        delay = self._jittered(self.current_probe_interval)
        while self.state != "closed" and not self._shut:
            await asyncio.sleep(delay)
            delay = await self.probe()

    def recovery_bound(self) -> float:
        """The most seconds between a store's return and the breaker closing.

        One (backed-off, jittered) probe interval, then ``recovery_probes`` probes over
        at least ``recovery_time``, each probe taking at most its timeouts.
        """
        steps = max(1, self.recovery_probes - 1)
        spacing = max(self.recovery_time / steps, self.probe_interval / 5)
        per_probe = self.probe_timeout + self.deadline
        return (
            self.current_probe_interval * (1 + _JITTER)
            + spacing * (self.recovery_probes - 1)
            + per_probe * self.recovery_probes
            + self.probe_timeout  # handing over the fallback's counts
        )

    async def aclose(self) -> None:
        """Stop probing and close the store."""
        self._shut = True
        task = self._probe_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.store.aclose()

    def snapshot(self) -> dict[str, Any]:
        """Return the breaker's counters as plain data."""
        return {
            "state": self.state,
            "consecutive_failures": self._failures,
            "calls": self.calls,
            "skipped_calls": self.skipped_calls,
            "errors": dict(self.errors),
            "last_error": self.last_error,
            "transitions": dict(self.transitions),
            "probes": self.probes,
            "probe_interval": round(self.current_probe_interval, 3),
            "degraded_for": round(self.degraded_for(), 3),
            "degraded_seconds_total": round(self.degraded_seconds + self.degraded_for(), 3),
            "latency_mean": round(self.mean_latency(), 6),
            "latency_max": round(self.latency_max, 6),
        }
