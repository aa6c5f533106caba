"""Hung synchronous checks cannot starve the others: each check has its own thread, at most one.

Six informational checks blocked forever (``statvfs`` on a dead NFS mount) and one
healthy critical check: ``/readyz`` stays 200 and reports the six as timed out. With one
shared pool of four threads (before), the critical check queued behind them: 503.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator

import pytest

from hardening.health import CheckResult, HealthRegistry, HealthRuntime
from tests.health.helpers import body_of, client, make

pytestmark = pytest.mark.anyio

HUNG = 6


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Unblocks the hung checks at teardown, so no thread lingers."""
    event = threading.Event()
    yield event
    event.set()


def health_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("hardening-health")]


async def test_hung_informational_sync_checks_never_starve_a_critical_one(release: threading.Event) -> None:
    calls = dict.fromkeys(range(HUNG), 0)

    def hung(number: int) -> None:
        calls[number] += 1
        release.wait(30)

    def healthy() -> CheckResult:
        return CheckResult.passed(1, "ms")

    registry = HealthRegistry()
    for number in range(HUNG):
        registry.add(f"nfs{number}:free", functools.partial(hung, number), critical=False, timeout=0.2, fail_ttl=0)
    registry.add("db:responseTime", healthy, timeout=0.2, pass_ttl=0)
    app = make(registry, deadline=0.5, details="always")
    threads_before = len(health_threads())
    statuses: list[int] = []
    async with client(app) as http:
        for _ in range(4):
            response = await http.get("/readyz")
            statuses.append(response.status_code)
        checks = body_of(response)["checks"]
    print(f"\n/readyz with {HUNG} hung informational sync checks and a healthy critical one: {statuses}")
    assert statuses == [200] * 4
    assert checks["db:responseTime"][0]["status"] == "pass"
    for number in range(HUNG):
        [result] = checks[f"nfs{number}:free"]
        assert result["status"] == "fail"
        assert "timeout" in result["output"]
    assert "still running" in checks["nfs0:free"][0]["output"]  # the later probes
    # A hung check is never started again while it is stuck: one call, one thread, each.
    assert calls == dict.fromkeys(range(HUNG), 1)
    assert len(health_threads()) - threads_before <= HUNG + 1
    release.set()
    await app.runtime.close()


async def test_a_check_recovers_once_its_thread_is_free(release: threading.Event) -> None:
    blocked = threading.Event()
    blocked.set()

    def sometimes_hung() -> CheckResult:
        if blocked.is_set():
            release.wait(30)
        return CheckResult.passed(1, "ms")

    registry = HealthRegistry()
    registry.add("legacy:responseTime", sometimes_hung, timeout=0.1, fail_ttl=0, pass_ttl=0)
    app = make(registry, deadline=0.3, details="always")
    async with client(app) as http:
        assert (await http.get("/readyz")).status_code == 503
        blocked.clear()
        release.set()  # the stuck run ends; its thread is free again
        deadline = time.monotonic() + 3
        status = 503
        while status != 200 and time.monotonic() < deadline:
            status = (await http.get("/readyz")).status_code
    assert status == 200
    await app.runtime.close()


def test_more_sync_checks_than_threads_is_a_start_up_error() -> None:
    registry = HealthRegistry()
    for number in range(3):
        registry.add(f"sync{number}:check", lambda: None)
    with pytest.raises(ValueError, match=r"HARDENING_HEALTH__SYNC_WORKERS") as info:
        HealthRuntime(registry, sync_workers=2)
    assert "3 synchronous checks" in str(info.value)
