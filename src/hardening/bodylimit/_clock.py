"""Times the waits for request bodies: one watchdog per event loop, no timer per read.

Arming a timer for every ``receive()`` would cost more than the rest of the layer on a
small body that is already there. Instead each wait registers itself with its loop's
watchdog (a set insert), and the watchdog, running every :data:`RESOLUTION` seconds only
while some wait is in progress, ends the waits that went over their limits. A body is
therefore cut at most :data:`RESOLUTION` seconds after its limit.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Final

from hardening.bodylimit._config import Times

if TYPE_CHECKING:
    from starlette.types import Message, Receive

__all__ = ("RESOLUTION", "BodyClock", "allowed_wait")

RESOLUTION: Final = 0.1
"""Seconds between two looks of the watchdog at the waits in progress."""


def allowed_wait(times: Times, received: int) -> float:
    """Seconds of waiting a body may have used in all, given ``received`` bytes so far."""
    allowed = float("inf") if times.timeout is None else times.timeout
    if times.min_rate is not None:
        # A body averaging at least min_rate after the grace period: received / waited >= rate.
        allowed = min(allowed, max(times.grace, received / times.min_rate))
    return allowed


class _Watchdog:
    """Looks at the body waits of one event loop every RESOLUTION seconds while there are any."""

    __slots__ = ("__weakref__", "_handle", "_loop", "waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._handle: asyncio.TimerHandle | None = None
        self.waiting: set[BodyClock] = set()

    def add(self, clock: BodyClock) -> None:
        self.waiting.add(clock)
        if self._handle is None:
            self._handle = self._loop.call_later(RESOLUTION, self._look)

    def _look(self) -> None:
        self._handle = None
        now = self._loop.time()
        for clock in tuple(self.waiting):
            clock.check(now)
        if self.waiting:
            self._handle = self._loop.call_later(RESOLUTION, self._look)


_WATCHDOGS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watchdog] = weakref.WeakKeyDictionary()
_last: list[_Watchdog] = []  # the watchdog of the loop seen last (a process usually has one)


def _watchdog_of(loop: asyncio.AbstractEventLoop) -> _Watchdog:
    if _last and _last[0]._loop is loop:
        return _last[0]
    watchdog = _WATCHDOGS.get(loop)
    if watchdog is None:
        watchdog = _WATCHDOGS[loop] = _Watchdog(loop)
    _last[:] = [watchdog]
    return watchdog


class BodyClock:
    """The waiting time of one request body, and the end of a wait over its limits.

    Only the time spent in ``receive()`` waiting for the client counts, not the app's
    own work between two reads. :meth:`receive` returns ``None`` when the body has used
    up its time, before or during the wait.
    """

    __slots__ = ("_fired", "_received", "_since", "_task", "_times", "_watchdog", "waited")

    def __init__(self, times: Times) -> None:
        self._times = times
        self._watchdog = _watchdog_of(asyncio.get_running_loop())
        self.waited = 0.0
        self._received = 0
        self._since: float | None = None  # when the current wait began (None: not waiting)
        self._task: asyncio.Task[object] | None = None
        self._fired = False

    async def receive(self, receive: Receive, received: int) -> Message | None:
        """``receive()``, or ``None`` when the body has used up its time."""
        if allowed_wait(self._times, received) <= self.waited:
            return None
        loop = self._watchdog._loop
        self._received = received
        self._task = asyncio.current_task()
        self._since = since = loop.time()
        self._watchdog.add(self)
        try:
            return await receive()
        except asyncio.CancelledError:
            if not self._fired:
                raise
            uncancel = getattr(self._task, "uncancel", None)  # Python 3.11+
            if uncancel is not None:
                uncancel()
            return None
        finally:
            self._watchdog.waiting.discard(self)
            self.waited += loop.time() - since
            self._since = None

    def check(self, now: float) -> None:
        """End the wait in progress if it went over the body's limits (the watchdog calls it)."""
        since = self._since
        if since is None or self._task is None or self._fired:
            return
        if self.waited + (now - since) >= allowed_wait(self._times, self._received):
            self._fired = True
            self._task.cancel()
