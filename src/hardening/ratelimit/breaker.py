"""A circuit breaker around the primary store, with recovery probed off the request path.

States:

* ``closed``: requests go to the store, each call bounded by ``deadline``. A storage
  failure (timeout, connection error, any Redis error) counts; ``failure_threshold``
  consecutive failures open the breaker. Other exceptions are bugs: they propagate and
  do not count.
* ``open``: requests never touch the store (zero calls on the request path); the policy's
  failure mode decides them. A background task probes the store every
  ``probe_interval`` seconds (with +/-20% jitter so workers do not probe in step).
* ``half_open``: a probe succeeded; the breaker closes after ``recovery_probes``
  consecutive good probes (taken ``probe_interval / 5`` apart) and re-opens on the first
  bad one. Requests still stay off the store until it closes.

Each transition is logged once (logger ``hardening.ratelimit``), never once per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal

import anyio

from hardening.ratelimit.stores import STORAGE_ERROR_NAMES, Store
from hardening.ratelimit.windows import Limit, Outcome, Strategy

__all__ = ("BreakerState", "CircuitBreaker", "is_storage_error")

BreakerState = Literal["closed", "open", "half_open"]
"""The circuit breaker's state."""

_JITTER: Final = 0.2
_CONFIRM_FRACTION: Final = 0.2
_logger = logging.getLogger("hardening.ratelimit")


def is_storage_error(exc: BaseException) -> bool:
    """Return whether ``exc`` means "the store failed" rather than "our code is wrong".

    Timeouts, OS and connection errors, and the error hierarchies of the store clients
    (``redis.RedisError``, ``limits.errors.StorageError``, ...) are storage failures.
    """
    if isinstance(exc, (TimeoutError, OSError, ConnectionError, asyncio.TimeoutError)):
        return True
    return any(cls.__name__ in STORAGE_ERROR_NAMES for cls in type(exc).__mro__)


class CircuitBreaker:
    """Guard a :class:`~hardening.ratelimit.stores.Store` with a deadline and a breaker.

    Args:
        store: The primary store.
        deadline: Seconds one call may take on the request path.
        failure_threshold: Consecutive failures that open the breaker.
        recovery_probes: Consecutive good probes that close it.
        probe_interval: Seconds between probes while open.
        probe_timeout: Seconds one probe may take.
        on_state_change: Called with ``(old, new)`` after each transition.
        on_close: Called when the breaker closes (the limiter clears the fallback).
    """

    def __init__(
        self,
        store: Store,
        *,
        deadline: float = 0.05,
        failure_threshold: int = 3,
        recovery_probes: int = 3,
        probe_interval: float = 1.0,
        probe_timeout: float = 0.5,
        on_state_change: Callable[[str, str], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.deadline = deadline
        self.failure_threshold = failure_threshold
        self.recovery_probes = recovery_probes
        self.probe_interval = probe_interval
        self.probe_timeout = probe_timeout
        self._on_state_change = on_state_change
        self._on_close = on_close
        self.state: BreakerState = "closed"
        self._failures = 0
        self._probe_task: asyncio.Task[None] | None = None
        self._degraded_since: float | None = None
        self._closed = False
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

    def degraded_for(self) -> float:
        """Seconds since the breaker opened, 0 when closed."""
        return 0.0 if self._degraded_since is None else time.monotonic() - self._degraded_since

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
            self._record_failure(exc)
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

    def _record_failure(self, exc: BaseException) -> None:
        name = type(exc).__name__
        self.errors[name] += 1
        self.last_error = name
        self._failures += 1
        if self.state == "closed" and self._failures >= self.failure_threshold:
            self._transition("open", reason=f"{self._failures} consecutive failures, last {name}")
            self._start_probe()

    def _transition(self, new: BreakerState, *, reason: str) -> None:
        old = self.state
        if old == new:
            return
        self.state = new
        self.transitions[f"{old}->{new}"] += 1
        now = time.monotonic()
        if new == "open" and old == "closed":
            self._degraded_since = now
            _logger.warning(
                "ratelimit.storage.degraded: rate-limit storage unavailable (%s); requests are "
                "decided by each policy's failure mode until it recovers",
                reason,
                extra={"event": "ratelimit.storage.degraded", "old_state": old, "new_state": new},
            )
        elif new == "closed":
            if self._degraded_since is not None:
                self.degraded_seconds += now - self._degraded_since
                duration = now - self._degraded_since
            else:  # pragma: no cover - closed is only reached from half_open
                duration = 0.0
            self._degraded_since = None
            self._failures = 0
            _logger.info(
                "ratelimit.storage.recovered: rate-limit storage is back after %.1f s (%s)",
                duration,
                reason,
                extra={"event": "ratelimit.storage.recovered", "old_state": old, "new_state": new},
            )
            if self._on_close is not None:
                self._on_close()
        else:
            _logger.info(
                "ratelimit.storage.%s: %s",
                new,
                reason,
                extra={"event": f"ratelimit.storage.{new}", "old_state": old, "new_state": new},
            )
        if self._on_state_change is not None:
            self._on_state_change(old, new)

    def _start_probe(self) -> None:
        if self._closed or (self._probe_task is not None and not self._probe_task.done()):
            return
        self._probe_task = asyncio.get_running_loop().create_task(self._probe_loop(), name="hardening-ratelimit-probe")

    @staticmethod
    def _jittered(seconds: float) -> float:
        return seconds * random.uniform(1 - _JITTER, 1 + _JITTER)

    async def _probe_once(self) -> bool:
        self.probes += 1
        try:
            with anyio.fail_after(self.probe_timeout):
                await self.store.ping()
        except Exception as exc:  # any failure, even an odd one, keeps the breaker open
            self.errors[type(exc).__name__] += 1
            self.last_error = type(exc).__name__
            return False
        return True

    async def _probe_loop(self) -> None:
        successes = 0
        delay = self._jittered(self.probe_interval)
        while self.state != "closed":
            await asyncio.sleep(delay)
            if await self._probe_once():
                successes += 1
                if successes >= self.recovery_probes:
                    self._transition("closed", reason=f"{successes} good probes")
                    return
                self._transition("half_open", reason=f"probe {successes}/{self.recovery_probes} succeeded")
                delay = self._jittered(self.probe_interval * _CONFIRM_FRACTION)
            else:
                successes = 0
                self._transition("open", reason=f"probe failed ({self.last_error})")
                delay = self._jittered(self.probe_interval)

    def recovery_bound(self) -> float:
        """The most seconds between a store's return and the breaker closing."""
        return (
            self.probe_interval * (1 + _JITTER) * (1 + _CONFIRM_FRACTION * (self.recovery_probes - 1))
            + self.probe_timeout * self.recovery_probes
        )

    async def aclose(self) -> None:
        """Stop probing and close the store."""
        self._closed = True
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
            "degraded_for": round(self.degraded_for(), 3),
            "degraded_seconds_total": round(self.degraded_seconds + self.degraded_for(), 3),
            "latency_mean": round(self.mean_latency(), 6),
            "latency_max": round(self.latency_max, 6),
        }
