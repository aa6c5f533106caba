"""Local checks: disk space, event-loop lag, the rate limiter's store, any callable."""

from __future__ import annotations

import asyncio
import inspect
import shutil
from dataclasses import replace
from typing import Any, Protocol

from hardening.health.result import CheckResult, coerce_result

__all__ = ("DiskSpaceCheck", "EventLoopLagCheck", "HasHealth", "RateLimiterCheck")


class DiskSpaceCheck:
    """Free space on the file system holding ``path`` (a sync check, run in a thread).

    Args:
        path: Any path on the file system to watch.
        warn_below: Warn when the free fraction drops below this (0 to 1).
        fail_below: Fail when the free fraction drops below this (0 to 1).
    """

    component_type = "system"

    def __init__(self, path: str = "/", *, warn_below: float = 0.10, fail_below: float = 0.02) -> None:
        if not 0 <= fail_below <= warn_below <= 1:
            msg = f"disk check needs 0 <= fail_below <= warn_below <= 1, got {fail_below!r} and {warn_below!r}"
            raise ValueError(msg)
        self.path = path
        self.warn_below = warn_below
        self.fail_below = fail_below

    def __call__(self) -> CheckResult:
        """Run the check."""
        usage = shutil.disk_usage(self.path)
        free = usage.free / usage.total if usage.total else 0.0
        percent = round(free * 100, 2)
        if free < self.fail_below:
            return CheckResult.failed(f"{percent}% free", percent, "percent")
        if free < self.warn_below:
            return CheckResult.warned(f"{percent}% free", percent, "percent")
        return CheckResult.passed(percent, "percent")


class EventLoopLagCheck:
    """How late the event loop runs a callback scheduled ``interval`` seconds ahead.

    A loop blocked by sync code in an async route shows a large lag. Use it in the
    detailed view; put it in liveness only with a generous ``fail_above``.

    Args:
        warn_above: Warn when the lag exceeds this many seconds.
        fail_above: Fail when the lag exceeds this many seconds.
        interval: The sleep the lag is measured against.
    """

    component_type = "system"

    def __init__(self, *, warn_above: float = 0.1, fail_above: float = 1.0, interval: float = 0.01) -> None:
        self.warn_above = warn_above
        self.fail_above = fail_above
        self.interval = interval

    async def __call__(self) -> CheckResult:
        """Run the check."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(self.interval)
        lag = max(0.0, loop.time() - start - self.interval)
        lag_ms = round(lag * 1000, 3)
        if lag > self.fail_above:
            return CheckResult.failed(f"event loop lag {lag_ms} ms", lag_ms, "ms")
        if lag > self.warn_above:
            return CheckResult.warned(f"event loop lag {lag_ms} ms", lag_ms, "ms")
        return CheckResult.passed(lag_ms, "ms")


class HasHealth(Protocol):
    """Anything with a ``health()`` method, such as the rate limiter's resilient store.

    ``health()`` (sync or async) returns a status word, a mapping with ``"status"``,
    or an object with a ``status`` attribute; common words are mapped:
    ``ok``/``up``/``closed`` pass, ``degraded``/``half_open``/``fallback`` warn,
    ``down``/``open``/``error`` fail.
    """

    def health(self) -> Any:
        """Return the component's current health."""


class RateLimiterCheck:
    """Report the rate limiter's store state (for example "degraded: using fallback").

    Args:
        limiter: Any object with a ``health()`` method (see :class:`HasHealth`).
    """

    component_type = "component"

    def __init__(self, limiter: HasHealth) -> None:
        if not callable(getattr(limiter, "health", None)):
            msg = f"RateLimiterCheck needs an object with a health() method, got {type(limiter).__name__}"
            raise TypeError(msg)
        self.limiter = limiter

    async def __call__(self) -> CheckResult:
        """Run the check."""
        value = self.limiter.health()
        if inspect.isawaitable(value):
            value = await value
        result = coerce_result(value)
        observed = _observed(value)
        if observed is None:
            return result
        if result.status != "pass" and result.output == f"status is {result.status}":
            state = observed.get("state")
            output = f"rate limiter store degraded (breaker {state})" if state else "rate limiter store degraded"
            result = replace(result, output=output)
        return replace(result, observed_value=observed, observed_unit="state")


def _observed(value: object) -> dict[str, Any] | None:
    """The facts a limiter health object carries (``to_dict()`` or ``details``), minus status."""
    to_dict = getattr(value, "to_dict", None)
    data = to_dict() if callable(to_dict) else getattr(value, "details", None)
    if isinstance(value, dict):
        data = value
    if not isinstance(data, dict):
        return None
    return {str(key): item for key, item in data.items() if key not in ("status", "output")}
