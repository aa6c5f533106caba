"""The runtime: deadlines, timeouts, single flight, caching, hysteresis, threads and tasks."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from hardening.health import CheckResult, HealthRegistry, HealthRuntime
from tests.health.helpers import body_of, client, make

pytestmark = pytest.mark.anyio

DEADLINE = 0.5
MARGIN = 0.75  # generous: the machine is shared; the point is "not 30 s"


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An event that unblocks blocking sync checks at teardown (so no thread lingers 30 s)."""
    event = threading.Event()
    yield event
    event.set()


async def fast() -> CheckResult:
    return CheckResult.passed(1, "ms")


async def test_slow_async_check_times_out_and_others_are_present() -> None:
    async def slow() -> None:
        await asyncio.sleep(30)

    registry = HealthRegistry()
    registry.add("slow:responseTime", slow, timeout=0.2)
    registry.add("fast:responseTime", fast)
    app = make(registry, deadline=DEADLINE, details="always")
    async with client(app) as http:
        started = time.monotonic()
        response = await http.get("/readyz")
        elapsed = time.monotonic() - started

    assert elapsed < DEADLINE + MARGIN
    assert response.status_code == 503
    checks = body_of(response)["checks"]
    assert checks["slow:responseTime"][0]["status"] == "fail"
    assert "timeout" in checks["slow:responseTime"][0]["output"]
    assert checks["fast:responseTime"][0]["status"] == "pass"
    await app.runtime.close()


async def test_blocking_sync_check_keeps_loop_responsive_and_bounded(release: threading.Event) -> None:
    def blocking() -> None:
        release.wait(30)

    registry = HealthRegistry()
    registry.add("legacy:responseTime", blocking, timeout=0.2, fail_ttl=0)
    registry.add("fast:responseTime", fast, pass_ttl=0)
    app = make(registry, deadline=DEADLINE, details="always", sync_workers=2)
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    threads_before = threading.active_count()
    async with client(app) as http:
        first = await http.get("/readyz")
        other = await http.get("/other")
        tasks_after_first = len(asyncio.all_tasks())
        for _ in range(15):
            started = time.monotonic()
            response = await http.get("/readyz")
            assert time.monotonic() - started < DEADLINE + MARGIN
            assert response.status_code == 503
        tasks_after_many = len(asyncio.all_tasks())
    stop.set()
    await tick

    assert first.status_code == 503
    assert body_of(first)["checks"]["fast:responseTime"][0]["status"] == "pass"
    assert other.text == "app"
    assert max(gaps) < 0.25  # the loop was never blocked by the sync check
    assert threading.active_count() <= threads_before + 2  # at most the dedicated pool
    assert tasks_after_many <= tasks_after_first + 1
    # the hung thread is not started again while it is still blocked
    assert app.runtime.executions["legacy:responseTime"] >= 2
    release.set()
    await app.runtime.close()


async def test_repeated_probes_on_hung_async_check_do_not_grow_tasks() -> None:
    async def hung() -> None:
        await asyncio.Event().wait()

    registry = HealthRegistry()
    registry.add("hung:responseTime", hung, timeout=0.1, fail_ttl=0)
    app = make(registry, deadline=0.3)
    async with client(app) as http:
        await http.get("/readyz")
        baseline = len(asyncio.all_tasks())
        for _ in range(10):
            assert (await http.get("/readyz")).status_code == 503
        assert len(asyncio.all_tasks()) <= baseline + 1
    await app.runtime.close()


async def test_thousand_concurrent_probes_on_cold_cache_run_each_check_once() -> None:
    calls = {"a": 0, "b": 0}

    async def check_a() -> None:
        calls["a"] += 1
        await asyncio.sleep(0.05)

    def check_b() -> None:
        calls["b"] += 1
        time.sleep(0.05)

    registry = HealthRegistry()
    registry.add("a:responseTime", check_a)
    registry.add("b:responseTime", check_b)
    app = make(registry, deadline=2.0)
    runtime = app.runtime
    reports = await asyncio.gather(*(runtime.evaluate("readiness") for _ in range(1000)))

    assert calls == {"a": 1, "b": 1}
    assert runtime.executions == {"a:responseTime": 1, "b:responseTime": 1, "uptime": 0}
    assert {report.status for report in reports} == {"pass"}
    await runtime.close()


async def test_thousand_concurrent_probes_while_one_check_hangs() -> None:
    calls = 0

    async def hung() -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(30)

    registry = HealthRegistry()
    registry.add("hung:responseTime", hung, timeout=5)
    app = make(registry, deadline=0.3, check_timeout=0.3)
    started = time.monotonic()
    reports = await asyncio.gather(*(app.runtime.evaluate("readiness") for _ in range(1000)))
    assert time.monotonic() - started < 0.3 + MARGIN + 1.0
    assert calls == 1
    assert {report.status for report in reports} == {"fail"}
    await app.runtime.close()


async def test_global_deadline_wins_over_sum_of_timeouts() -> None:
    async def slow() -> None:
        await asyncio.sleep(10)

    registry = HealthRegistry()
    for index in range(5):
        registry.add(f"slow{index}:responseTime", slow, timeout=5)
    runtime = HealthRuntime(registry, deadline=0.3)
    started = time.monotonic()
    report = await runtime.evaluate("readiness")
    assert time.monotonic() - started < 0.3 + MARGIN
    assert report.status == "fail"
    assert all("timeout" in (item.result.output or "") for item in report.checks)
    await runtime.close()


async def test_exception_is_a_fail_result_never_a_500() -> None:
    def broken() -> None:
        raise TypeError("unsupported operand")

    registry = HealthRegistry()
    registry.add("broken:check", broken)
    app = make(registry, details="always")
    async with client(app) as http:
        response = await http.get("/readyz")
        live = await http.get("/livez")
    assert response.status_code == 503
    assert body_of(response)["checks"]["broken:check"][0]["output"] == "TypeError: unsupported operand"
    assert live.status_code == 200
    await app.runtime.close()


async def test_cancelled_error_is_not_swallowed_as_a_result() -> None:
    async def cancelled() -> None:
        raise asyncio.CancelledError

    registry = HealthRegistry()
    registry.add("cancel:check", cancelled)
    runtime = HealthRuntime(registry, deadline=0.3)
    report = await runtime.evaluate("readiness")
    assert report.status == "fail"
    assert runtime.snapshot()["cancel:check"] is None  # no result recorded: it propagated
    await runtime.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_pass_and_fail_results_are_cached_for_their_ttls() -> None:
    outcomes: list[bool] = [True, False, False, True]
    calls = 0

    def flaky() -> bool:
        nonlocal calls
        calls += 1
        return outcomes[min(calls - 1, len(outcomes) - 1)]

    clock = FakeClock()
    registry = HealthRegistry()
    registry.add("flaky:check", flaky, pass_ttl=10, fail_ttl=2)
    runtime = HealthRuntime(registry, clock=clock)
    assert (await runtime.evaluate("readiness")).status == "pass"
    clock.now += 9
    assert (await runtime.evaluate("readiness")).status == "pass"
    assert calls == 1
    clock.now += 2
    assert (await runtime.evaluate("readiness")).status == "fail"
    assert calls == 2
    clock.now += 1
    assert (await runtime.evaluate("readiness")).status == "fail"
    assert calls == 2  # fail TTL 2 s not expired
    clock.now += 1.5
    await runtime.evaluate("readiness")
    assert calls == 3
    await runtime.close()


async def test_hysteresis_failure_and_success_thresholds() -> None:
    outcomes = iter([True, False, False, False, True, True, True])

    def check() -> bool:
        return next(outcomes)

    registry = HealthRegistry()
    registry.add("dep:check", check, pass_ttl=0, fail_ttl=0, failure_threshold=3, success_threshold=2)
    runtime = HealthRuntime(registry)
    seen = [(await runtime.evaluate("readiness")).status for _ in range(7)]
    assert seen == ["pass", "pass", "pass", "fail", "fail", "pass", "pass"]
    await runtime.close()


async def test_hang_ends_then_next_evaluation_recovers() -> None:
    gate = {"hang": True}

    async def sometimes_hangs() -> None:
        if gate["hang"]:
            await asyncio.sleep(30)

    registry = HealthRegistry()
    registry.add("dep:check", sometimes_hangs, timeout=0.1, fail_ttl=0)
    runtime = HealthRuntime(registry, deadline=0.3)
    assert (await runtime.evaluate("readiness")).status == "fail"
    gate["hang"] = False
    assert (await runtime.evaluate("readiness")).status == "pass"
    await runtime.close()


async def test_stale_result_is_served_while_a_slow_refresh_runs() -> None:
    delay = {"seconds": 0.0}

    async def check() -> None:
        await asyncio.sleep(delay["seconds"])

    clock = FakeClock()
    registry = HealthRegistry()
    registry.add("dep:check", check, pass_ttl=1, timeout=5)
    runtime = HealthRuntime(registry, deadline=0.2, clock=clock)
    assert (await runtime.evaluate("readiness")).status == "pass"
    delay["seconds"] = 1.0
    clock.now += 5
    started = time.monotonic()
    report = await runtime.evaluate("readiness")
    assert time.monotonic() - started < 0.2 + MARGIN
    assert report.status == "pass"  # the last known result, while the refresh runs
    assert report.checks[0].age >= 5
    await runtime.close()


async def test_two_middlewares_do_not_share_state() -> None:
    first, second = HealthRegistry(), HealthRegistry()
    first.add("one:check", lambda: False)
    second.add("two:check", lambda: True)
    app_one, app_two = make(first, details="always"), make(second, details="always")
    async with client(app_one) as one, client(app_two) as two:
        response_one = await one.get("/readyz")
        response_two = await two.get("/readyz")
    assert response_one.status_code == 503
    assert set(body_of(response_one)["checks"]) == {"one:check"}
    assert response_two.status_code == 200
    assert set(body_of(response_two)["checks"]) == {"two:check"}
    await app_one.runtime.close()
    await app_two.runtime.close()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "pass"),
        (True, "pass"),
        (False, "fail"),
        ("OK", "pass"),
        ("degraded", "warn"),
        ("down", "fail"),
        ("banana", "fail"),
        ({"status": "up"}, "pass"),
        ({"status": "half_open", "detail": "probing redis"}, "warn"),
        ({"nothing": 1}, "fail"),
        (42, "fail"),
    ],
)
async def test_return_values_are_coerced(value: Any, expected: str) -> None:
    registry = HealthRegistry()
    registry.add("dep:check", lambda: value)
    runtime = HealthRuntime(registry)
    report = await runtime.evaluate("health")
    assert report.checks[0].result.status == expected
    await runtime.close()
