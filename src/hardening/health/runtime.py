"""The engine behind the endpoints: concurrent, deadline-bound, single-flight checks.

* Every check of an endpoint runs concurrently, each under its own timeout; the
  endpoint waits at most its deadline and reports unfinished checks as failed with
  "timeout" (they keep running in the background, once).
* Single flight: at most one execution per check at any time, however many probes
  arrive. Results are cached (a longer time for pass than for fail); a stale result is
  served when its refresh does not finish within the deadline.
* Hysteresis: failure and recovery thresholds per check.
* Sync checks run in threads of their own: each sync check has one dedicated thread
  (started on its first run, idle in between), never shared with another check, and is
  not started again while its previous run is still stuck there ("timeout: still
  running"). A hung blocking check holds its one thread and never one another check
  needs; health uses at most one thread per sync check, and ``sync_workers`` caps them.
* Lifecycle: readiness is down while starting (until warm-up hooks finish) and from
  the start of shutdown; liveness is not affected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from hardening.health.registry import CheckSpec, Criticality, Group, HealthRegistry
from hardening.health.result import CheckResult, Status, coerce_result, safe_output, worst

__all__ = ("GroupReport", "HealthRuntime", "Lifecycle", "ReportedCheck")

logger = logging.getLogger("hardening.health")

Lifecycle = Literal["unknown", "starting", "ready", "stopping"]
"""Where the app is in its ASGI lifespan (``unknown``: no lifespan seen; counts as ready)."""

_THREAD_PREFIX: Final = "hardening-health"


@dataclass(frozen=True, slots=True)
class ReportedCheck:
    """A check's result as reported by one endpoint.

    Attributes:
        spec: The check.
        criticality: How critical it is in this endpoint.
        result: The reported result (after hysteresis), or a timeout/pending failure.
        age: Seconds since the result was recorded.
    """

    spec: CheckSpec
    criticality: Criticality
    result: CheckResult
    age: float


@dataclass(frozen=True, slots=True)
class GroupReport:
    """The outcome of one endpoint evaluation.

    Attributes:
        group: Which endpoint.
        status: The aggregated status (what decides the HTTP status code).
        checks: Every member check's reported result.
        output: Why the endpoint is not passing (lifecycle state, failing checks).
        elapsed: Seconds the evaluation took.
    """

    group: Group
    status: Status
    checks: tuple[ReportedCheck, ...]
    output: str | None
    elapsed: float


class _State:
    __slots__ = ("consecutive_fail", "consecutive_ok", "expires", "future", "raw", "reported", "spec", "task")

    def __init__(self, spec: CheckSpec) -> None:
        self.spec = spec
        self.reported: CheckResult | None = None
        self.raw: CheckResult | None = None
        self.expires = 0.0
        self.task: asyncio.Task[None] | None = None
        self.future: Future[Any] | None = None  # a sync check's thread job
        self.consecutive_fail = 0
        self.consecutive_ok = 0


class HealthRuntime:
    """Runs a registry's checks for the endpoints; one per :class:`HealthMiddleware`.

    Args:
        registry: The checks.
        deadline: Seconds an endpoint evaluation may take at most.
        check_timeout: Timeout of checks registered without one, in seconds.
        pass_ttl: Cache time of pass/warn results of checks registered without one.
        fail_ttl: Cache time of fail results of checks registered without one.
        sync_workers: The most sync checks (each with its own thread) this runtime
            accepts; more is a start-up error.
        extra: More checks (the built-in process check), after the registry's.
        clock: Monotonic clock (for tests).
    """

    def __init__(
        self,
        registry: HealthRegistry,
        *,
        deadline: float = 0.8,
        check_timeout: float = 0.5,
        pass_ttl: float = 5.0,
        fail_ttl: float = 1.0,
        sync_workers: int = 16,
        extra: Iterable[CheckSpec] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.deadline = deadline
        self.sync_workers = sync_workers
        self._clock = clock
        specs = [*registry.specs(), *(spec for spec in extra if spec.name not in registry)]
        self._states: dict[str, _State] = {
            spec.name: _State(
                replace(
                    spec,
                    timeout=check_timeout if spec.timeout is None else spec.timeout,
                    pass_ttl=pass_ttl if spec.pass_ttl is None else spec.pass_ttl,
                    fail_ttl=fail_ttl if spec.fail_ttl is None else spec.fail_ttl,
                )
            )
            for spec in specs
        }
        self._members: dict[Group, tuple[tuple[_State, Criticality], ...]] = {}
        for group in ("liveness", "readiness", "startup", "health"):
            self._members[group] = tuple(
                (state, level)
                for state in self._states.values()
                if (level := state.spec.criticality(group)) is not None
            )
        sync_checks = [state.spec.name for state in self._states.values() if not state.spec.is_async]
        if len(sync_checks) > sync_workers:
            msg = (
                f"health: {len(sync_checks)} synchronous checks need {len(sync_checks)} threads (one each, so a "
                f"hung check cannot starve another), more than health.sync_workers={sync_workers}; raise "
                "HARDENING_HEALTH__SYNC_WORKERS or make some checks async"
            )
            raise ValueError(msg)
        self._threads: dict[str, ThreadPoolExecutor] = {}  # one single-thread executor per sync check
        self.lifecycle: Lifecycle = "unknown"
        self.started = False
        self.warmup_error: str | None = None
        self._warmup_task: asyncio.Task[None] | None = None
        self.executions: dict[str, int] = dict.fromkeys(self._states, 0)
        """How many times each check was started (for tests and benchmarks)."""

    # -- lifecycle ---------------------------------------------------------------

    def begin_startup(self) -> None:
        """Mark the app as starting: readiness and start-up probes answer 503."""
        self.lifecycle = "starting"

    def startup_complete(self) -> None:
        """Mark the app's own start-up as done and run the warm-up hooks in the background."""
        if not self.registry.warmups:
            self.lifecycle = "ready"
            return
        self._warmup_task = asyncio.get_running_loop().create_task(self._run_warmups())

    async def _run_warmups(self) -> None:
        for name, hook in self.registry.warmups:
            try:
                outcome = hook()
                if asyncio.iscoroutine(outcome) or isinstance(outcome, asyncio.Future):
                    await outcome
            except Exception as exc:
                self.warmup_error = safe_output(f"warm-up {name!r} failed: {type(exc).__name__}: {exc}")
                logger.warning("health warm-up hook failed", extra={"hook": name, "error": self.warmup_error})
                return
        if self.lifecycle == "starting":
            self.lifecycle = "ready"

    def begin_shutdown(self) -> None:
        """Mark the app as shutting down: readiness answers 503 from now on.

        Called when the ASGI lifespan shutdown starts; call it yourself from a SIGTERM
        handler to stop traffic earlier. Liveness is not affected.
        """
        self.lifecycle = "stopping"

    async def close(self) -> None:
        """Stop background work: cancel running checks and the warm-up, free the threads."""
        tasks = [state.task for state in self._states.values() if state.task is not None]
        if self._warmup_task is not None:
            tasks.append(self._warmup_task)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        for executor in self._threads.values():
            executor.shutdown(wait=False, cancel_futures=True)
        self._threads.clear()
        for spec in self.specs():
            closer = getattr(spec.function, "aclose", None)
            if closer is not None:
                try:
                    await asyncio.wait_for(closer(), 2.0)
                except Exception:
                    logger.warning("health check %s did not close cleanly", spec.name)

    # -- evaluation --------------------------------------------------------------

    async def evaluate(self, group: Group, *, deadline: float | None = None) -> GroupReport:
        """Evaluate ``group`` within ``deadline`` seconds (the configured one by default)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        budget = self.deadline if deadline is None else deadline
        gate = self._lifecycle_gate(group)
        if gate is not None and group != "health":
            return GroupReport(group, "fail", (), gate, loop.time() - start)
        members = self._members[group]
        if group == "startup" and self.started:
            members = ()
        waiting: list[asyncio.Task[None]] = []
        now = self._clock()
        for state, _level in members:
            if state.reported is not None and now < state.expires:
                continue
            task = state.task if state.task is not None else self._launch(state)
            waiting.append(task)
        if waiting:
            remaining = budget - (loop.time() - start)
            if remaining > 0:
                await asyncio.wait(waiting, timeout=remaining)
        now = self._clock()
        reported = tuple(self._report(state, level, now) for state, level in members)
        status, output = _aggregate(reported)
        if gate is not None:  # the detailed view shows the lifecycle but stays informative
            status, output = "fail", gate
        if group == "startup" and status != "fail":
            self.started = True
        return GroupReport(group, status, reported, output, loop.time() - start)

    def _lifecycle_gate(self, group: Group) -> str | None:
        if group == "liveness":
            return None
        if self.lifecycle == "stopping" and group in ("readiness", "health"):
            return "shutting down"
        if self.lifecycle == "starting" and group in ("readiness", "startup", "health"):
            if self.warmup_error is not None:
                return self.warmup_error
            return "starting"
        return None

    def _report(self, state: _State, level: Criticality, now: float) -> ReportedCheck:
        result = state.reported
        if result is None:
            timeout_ms = round(min(_seconds(state.spec.timeout), self.deadline) * 1000)
            result = CheckResult(
                "fail",
                output=f"timeout: no result within {timeout_ms} ms",
                component_type=state.spec.component_type,
                component_id=state.spec.component_id,
            )
            return ReportedCheck(state.spec, level, result, 0.0)
        return ReportedCheck(state.spec, level, result, max(0.0, now - result.monotonic))

    def _launch(self, state: _State) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._execute(state), name=f"health:{state.spec.name}")
        state.task = task
        return task

    async def _execute(self, state: _State) -> None:
        spec = state.spec
        started = time.perf_counter()
        try:
            self.executions[spec.name] += 1
            result = await self._run(state)
        except asyncio.TimeoutError:
            result = CheckResult("fail", output=f"timeout after {round(_seconds(spec.timeout) * 1000)} ms")
        except Exception as exc:
            result = CheckResult("fail", output=f"{type(exc).__name__}: {exc}")
        finally:
            state.task = None
        duration = time.perf_counter() - started
        result = replace(
            result.sanitized(),
            duration=duration,
            monotonic=self._clock(),
            component_type=result.component_type or spec.component_type,
            component_id=result.component_id or spec.component_id,
        )
        if result.observed_value is None and result.status == "pass":
            result = replace(result, observed_value=round(duration * 1000, 3), observed_unit="ms")
        self._record(state, result)

    async def _run(self, state: _State) -> CheckResult:
        spec = state.spec
        if spec.is_async:
            value = await asyncio.wait_for(_call_async(spec), spec.timeout)
            return coerce_result(value)
        if state.future is not None and not state.future.done():
            # Single flight across probes: never a second run (nor a second thread).
            return CheckResult("fail", output="timeout: still running from an earlier probe (blocked in its thread)")
        executor = self._threads.get(spec.name)
        if executor is None:
            executor = ThreadPoolExecutor(1, thread_name_prefix=f"{_THREAD_PREFIX}:{spec.name}")
            self._threads[spec.name] = executor
        future = executor.submit(spec.function)
        state.future = future
        value = await asyncio.wait_for(asyncio.wrap_future(future), spec.timeout)
        if asyncio.iscoroutine(value):  # a sync callable that returned a coroutine
            value = await asyncio.wait_for(value, spec.timeout)
        return coerce_result(value)

    def _record(self, state: _State, result: CheckResult) -> None:
        spec = state.spec
        previous = state.reported
        state.raw = result
        if result.status == "fail":
            state.consecutive_fail += 1
            state.consecutive_ok = 0
            hold = previous is not None and previous.status != "fail"
            if hold and state.consecutive_fail < spec.failure_threshold:
                assert previous is not None  # noqa: S101 - narrowed by `hold`
                result = replace(previous, time=result.time, monotonic=result.monotonic)
        else:
            state.consecutive_ok += 1
            state.consecutive_fail = 0
            if previous is not None and previous.status == "fail" and state.consecutive_ok < spec.success_threshold:
                result = replace(
                    previous,
                    output=f"recovering ({state.consecutive_ok}/{spec.success_threshold} successes)",
                    time=result.time,
                    monotonic=result.monotonic,
                )
        if previous is not None and previous.status != result.status:
            logger.info("health check %s changed from %s to %s", spec.name, previous.status, result.status)
        state.reported = result
        ttl = _seconds(spec.fail_ttl if state.raw.status == "fail" else spec.pass_ttl)
        state.expires = self._clock() + ttl

    def specs(self) -> tuple[CheckSpec, ...]:
        """Every check this runtime runs, with its timeouts and cache times resolved."""
        return tuple(state.spec for state in self._states.values())

    def snapshot(self) -> Mapping[str, CheckResult | None]:
        """The cached reported result of every check (``None``: never finished), no re-run."""
        return {name: state.reported for name, state in self._states.items()}


def _seconds(value: float | None) -> float:
    return 0.0 if value is None else value


async def _call_async(spec: CheckSpec) -> Any:
    return await spec.function()


def _aggregate(checks: tuple[ReportedCheck, ...]) -> tuple[Status, str | None]:
    statuses: list[Status] = []
    problems: list[str] = []
    for item in checks:
        status = item.result.status
        if status == "fail" and item.criticality == "informational":
            status = "warn"
        statuses.append(status)
        if status != "pass":
            problems.append(f"{item.spec.name}: {item.result.status}")
    overall = worst(statuses)
    if overall == "pass":
        return overall, None
    return overall, safe_output("; ".join(problems))
