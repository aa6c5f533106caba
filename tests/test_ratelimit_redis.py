"""Rate limiting against a REAL Redis, and through a fault-injecting proxy in front of it.

Every fault scenario checks the same promises: no 5xx from the limiter, no request
spends more than the deadline plus a small margin in it, the event loop keeps ticking,
limits stay enforced while degraded, and decisions return to Redis by themselves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from hardening.ratelimit import RateLimitConfig, RateLimiter, RateLimitMiddleware, RedisStore
from hardening.ratelimit.stores import Limit, Strategy
from hardening.testing_faults import FaultProxy
from tests.servers import RedisServer, command_calls
from tests.test_ratelimit_faults import Figures

pytestmark = [pytest.mark.redis, pytest.mark.anyio]

DEADLINE = 0.1
MARGIN = 0.25  # scheduling noise on a shared 2-core machine; the point is "not seconds"
LOOP_LAG_LIMIT = 0.2


def async_uri(url: str) -> str:
    return "async+" + url


def make_config(uri: str, **overrides: Any) -> RateLimitConfig:
    options: dict[str, Any] = {
        "storage_uri": uri,
        "default_limits": "5/minute",
        "deadline": DEADLINE,
        "connect_timeout": 0.1,
        "failure_threshold": 3,
        "recovery_probes": 2,
        "recovery_time": 0.2,
        "probe_interval": 0.2,
        "probe_timeout": 0.2,
        "workers": 1,
        "strategy": "fixed-window",
    }
    options.update(overrides)
    return RateLimitConfig(**options)


async def ok(request: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


def make_app(limiter: RateLimiter) -> RateLimitMiddleware:
    return RateLimitMiddleware(Starlette(routes=[Route("/", ok), Route("/other", ok)]), limiter)


class Ticker:
    """Measures event-loop lag: the largest gap between 10 ms sleeps."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            self.max_gap = max(self.max_gap, now - last - 0.01)
            last = now

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


@asynccontextmanager
async def client_for(limiter: RateLimiter) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(limiter), client=("203.0.113.7", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        try:
            yield client
        finally:
            await limiter.aclose()


async def timed_get(client: httpx.AsyncClient, path: str = "/") -> tuple[int, float]:
    start = time.monotonic()
    response = await client.get(path)
    return response.status_code, time.monotonic() - start


async def wait_until(predicate: Callable[[], bool], timeout: float) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def figures_for(name: str, limiter: RateLimiter, limit: int) -> Figures:
    """Time every ``limiter.decide`` call (make it before :func:`client_for` builds the app).

    The bound is the issue's: the limiter's deadline plus 10 ms, on the limiter-added
    latency (see :class:`tests.test_ratelimit_faults.Figures`).
    """
    return Figures(name, limit, limiter, bound=limiter.config.deadline + 0.010)


async def measured_get(client: httpx.AsyncClient, figures: Figures, path: str = "/") -> tuple[int, float]:
    status, elapsed = await timed_get(client, path)
    figures.add(status, elapsed)
    return status, elapsed


def degraded_events(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", "") == "ratelimit.storage.degraded"]


def evalsha_calls(server: RedisServer) -> int:
    return command_calls(server.port).get("evalsha", 0)


# --------------------------------------------------------------------------- correctness


async def test_one_round_trip_per_request_with_headers(redis_server: RedisServer) -> None:
    limiter = RateLimiter(make_config(async_uri(redis_server.url), strategy="sliding-window-counter"))
    async with client_for(limiter) as client:
        await client.get("/")  # loads the script (EVALSHA miss + SCRIPT LOAD once)
        before = evalsha_calls(redis_server)
        for _ in range(3):
            response = await client.get("/")
            assert "ratelimit" in response.headers
        assert evalsha_calls(redis_server) - before == 3


async def test_200_concurrent_requests_at_limit_100_admit_exactly_100(redis_server: RedisServer) -> None:
    """Two limiters (two "workers") share Redis; the script is atomic."""
    uri = async_uri(redis_server.url)
    config = make_config(uri, default_limits="100/minute", deadline=5.0, probe_timeout=5.0, connect_timeout=5.0)
    workers = [RateLimiter(config), RateLimiter(config)]
    transports = [httpx.ASGITransport(app=make_app(limiter), client=("198.51.100.9", 1)) for limiter in workers]
    clients = [httpx.AsyncClient(transport=t, base_url="http://testserver") for t in transports]
    try:
        responses = await asyncio.gather(*(clients[i % 2].get("/") for i in range(200)))
    finally:
        for client in clients:
            await client.aclose()
        for limiter in workers:
            await limiter.aclose()
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 100
    assert statuses.count(429) == 100


@pytest.mark.parametrize("strategy", ["fixed-window", "moving-window", "sliding-window-counter"])
async def test_strategy_window_edges_against_redis(redis_server: RedisServer, strategy: Strategy) -> None:
    store = RedisStore(async_uri(redis_server.url))
    limit = Limit(3, 1, "3 per 1 second")
    key = (f"edge-{strategy}",)
    try:
        results = [await store.acquire(key, [limit], strategy, 1) for _ in range(4)]
        assert [r.allowed for r in results] == [True, True, True, False]
        assert [r.results[0].remaining for r in results[:3]] == [2, 1, 0]
        reset = results[3].results[0].reset
        assert 0 < reset <= 1.0
        if strategy == "sliding-window-counter":
            # The previous window still weighs in; two full windows later it is gone.
            await asyncio.sleep(2.05)
        else:
            await asyncio.sleep(reset + 0.05)
        again = await store.acquire(key, [limit], strategy, 1)
        assert again.allowed
    finally:
        await store.aclose()


async def test_cost_and_all_or_none_against_redis(redis_server: RedisServer) -> None:
    store = RedisStore(async_uri(redis_server.url))
    limits = [Limit(10, 60, "10/min"), Limit(3, 60, "3/min")]
    keys = ("aon-a", "aon-b")
    try:
        first = await store.acquire(keys, limits, "fixed-window", 2)
        second = await store.acquire(keys, limits, "fixed-window", 2)  # 4 > 3: rejected
        assert first.allowed
        assert not second.allowed
        # The rejected request consumed nothing from the 10/min limit either.
        assert second.results[0].remaining == 8
    finally:
        await store.aclose()


# --------------------------------------------------------------------------- faults


async def test_redis_down_at_start_up_then_promoted(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hardening.ratelimit")
    with FaultProxy(upstream=(redis_server.host, redis_server.port), mode="refuse") as proxy:
        limiter = RateLimiter(make_config(async_uri(proxy.url())))
        figures = figures_for("refused-at-start-up", limiter, 5)
        async with client_for(limiter) as client:
            with Ticker() as ticker, figures.traffic():
                results = [await measured_get(client, figures) for _ in range(8)]
            figures.report(limiter, time.monotonic() - figures.started)
            assert figures.added < figures.bound
            statuses = [status for status, _ in results]
            assert statuses == [200] * 5 + [429] * 3  # enforced by the fallback
            assert max(elapsed for _, elapsed in results) < DEADLINE + MARGIN
            assert ticker.max_gap < LOOP_LAG_LIMIT
            assert limiter.state != "closed"
            assert limiter.health().status == "warn"
            assert len(degraded_events(caplog)) == 1

            proxy.mode = "pass"
            assert limiter.breaker is not None
            took = await wait_until(lambda: limiter.state == "closed", limiter.breaker.recovery_bound() + 1)
            assert took <= limiter.breaker.recovery_bound() + MARGIN
            before = evalsha_calls(redis_server)
            # The fallback's 5 were handed to Redis on closing, and the fallback is still
            # asked until its window ends: no fresh window, and no Redis call for it.
            assert (await client.get("/")).status_code == 429
            assert evalsha_calls(redis_server) == before
            policy = limiter.table.match("GET", "/")
            assert policy is not None
            other = {"type": "http", "client": ("198.51.100.77", 1), "headers": []}
            assert (await limiter.decide(policy, other)).status == "allowed"
            assert evalsha_calls(redis_server) == before + 1  # decided by Redis again
            assert limiter.health().status == "pass"


async def test_redis_killed_under_traffic_and_restarted_empty(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hardening.ratelimit")
    limiter = RateLimiter(make_config(async_uri(redis_server.url), default_limits="20/minute"))
    figures = figures_for("killed-under-traffic", limiter, 20)
    async with client_for(limiter) as client:
        with Ticker() as ticker, figures.traffic():
            before = [await measured_get(client, figures) for _ in range(5)]
            redis_server.stop()
            during = [await measured_get(client, figures) for _ in range(30)]
        figures.report(limiter, time.monotonic() - figures.started)
        assert figures.added < figures.bound
        statuses = [s for s, _ in before + during]
        assert all(s in (200, 429) for s in statuses)
        assert max(t for _, t in before + during) < DEADLINE + MARGIN
        assert ticker.max_gap < LOOP_LAG_LIMIT
        assert limiter.state in ("open", "half_open")
        assert len(degraded_events(caplog)) == 1
        # The fallback already counted the 5 Redis admitted (workers=1): 15 more pass, then 429.
        assert [s for s, _ in during].count(200) == 15
        assert statuses[-1] == 429

        assert limiter.breaker is not None
        calls_while_open = limiter.breaker.calls
        await client.get("/")
        assert limiter.breaker.calls == calls_while_open  # zero Redis calls while open

        redis_server.start()  # empty: scripts reloaded (NOSCRIPT); the fallback's 15 handed over
        await wait_until(lambda: limiter.state == "closed", limiter.breaker.recovery_bound() + 1)
        # Redis lost the first 5 in the restart; the fallback, still consulted until its
        # window ends, remembers all 20: no fresh window.
        assert (await client.get("/")).status_code == 429
        assert limiter.stats()["decisions"]["allowed"] == 5


async def test_never_answering_redis_is_cut_off_at_the_deadline(redis_server: RedisServer) -> None:
    with FaultProxy(upstream=(redis_server.host, redis_server.port)) as proxy:
        limiter = RateLimiter(make_config(async_uri(proxy.url())))
        figures = figures_for("blackhole", limiter, 5)
        async with client_for(limiter) as client:
            assert (await measured_get(client, figures))[0] == 200
            proxy.mode = "blackhole"
            with Ticker() as ticker, figures.traffic():
                results = [await measured_get(client, figures) for _ in range(8)]
            figures.report(limiter, time.monotonic() - figures.started)
            assert figures.added < figures.bound  # cut off at the deadline
            assert all(status in (200, 429) for status, _ in results)
            assert max(elapsed for _, elapsed in results) < DEADLINE + MARGIN
            assert ticker.max_gap < LOOP_LAG_LIMIT
            assert limiter.state == "open"
            assert limiter.breaker is not None
            assert limiter.breaker.errors["TimeoutError"] >= 3
            assert [s for s, _ in results].count(200) == 4  # the fallback's quota, less the one Redis admitted

            proxy.mode = "pass"
            await wait_until(lambda: limiter.state == "closed", limiter.breaker.recovery_bound() + 1)


async def test_slow_redis_just_under_the_deadline_still_decides(redis_server: RedisServer) -> None:
    with FaultProxy(upstream=(redis_server.host, redis_server.port)) as proxy:
        limiter = RateLimiter(make_config(async_uri(proxy.url()), deadline=0.3, probe_timeout=0.5))
        figures = figures_for("slow-under-the-deadline", limiter, 5)
        async with client_for(limiter) as client:
            # Connect and load the script first: on a loaded machine, connecting through the
            # slow proxy (several round trips) could itself pass the deadline.
            await measured_get(client, figures)
            proxy.latency = 0.04
            with figures.traffic():
                results = [await measured_get(client, figures) for _ in range(6)]
            figures.report(limiter, time.monotonic() - figures.started)
            assert figures.added < figures.bound
            assert [s for s, _ in results] == [200] * 4 + [429] * 2
            assert max(t for _, t in results) < 0.3 + MARGIN
            assert limiter.state == "closed"
            assert limiter.stats()["decisions"].get("fallback_allowed", 0) == 0


async def test_slow_redis_over_the_deadline_trips_the_breaker(redis_server: RedisServer) -> None:
    with FaultProxy(upstream=(redis_server.host, redis_server.port)) as proxy:
        limiter = RateLimiter(make_config(async_uri(proxy.url())))
        figures = figures_for("slow-over-the-deadline", limiter, 5)
        async with client_for(limiter) as client:
            await measured_get(client, figures)
            proxy.latency = 0.5
            with Ticker() as ticker, figures.traffic():
                results = [await measured_get(client, figures) for _ in range(6)]
            figures.report(limiter, time.monotonic() - figures.started)
            assert figures.added < figures.bound  # cut off at the deadline
            assert all(status in (200, 429) for status, _ in results)
            assert max(t for _, t in results) < DEADLINE + MARGIN
            assert ticker.max_gap < LOOP_LAG_LIMIT
            assert limiter.state == "open"
            proxy.latency = 0.0
            assert limiter.breaker is not None
            await wait_until(lambda: limiter.state == "closed", limiter.breaker.recovery_bound() + 2)


async def test_flapping_redis_never_5xx_and_settles(redis_server: RedisServer) -> None:
    with FaultProxy(upstream=(redis_server.host, redis_server.port)) as proxy:
        limiter = RateLimiter(make_config(async_uri(proxy.url()), default_limits="1000/minute"))
        figures = figures_for("flapping-0.25s", limiter, 1000)
        async with client_for(limiter) as client:
            statuses: list[int] = []
            slowest = 0.0
            with Ticker() as ticker, figures.traffic():
                start = time.monotonic()
                flips = 0
                while time.monotonic() - start < 2.0:
                    if time.monotonic() - start > flips * 0.25:
                        proxy.mode = "refuse" if flips % 2 == 0 else "pass"
                        flips += 1
                    status, elapsed = await measured_get(client, figures)
                    statuses.append(status)
                    slowest = max(slowest, elapsed)
                    await asyncio.sleep(0.005)
            figures.report(limiter, 2.0)
            assert figures.added < figures.bound
            assert set(statuses) <= {200}
            assert slowest < DEADLINE + MARGIN
            assert ticker.max_gap < LOOP_LAG_LIMIT
            assert limiter.breaker is not None
            opened = limiter.breaker.transitions["closed->open"]
            assert 1 <= opened <= 2.0 / limiter.config.probe_interval + 1  # no faster than a probe
            proxy.mode = "pass"
            await wait_until(lambda: limiter.state == "closed", limiter.breaker.recovery_bound() + 1)


async def test_closed_failure_mode_answers_503_problem(redis_server: RedisServer) -> None:
    with FaultProxy(upstream=(redis_server.host, redis_server.port), mode="refuse") as proxy:
        limiter = RateLimiter(make_config(async_uri(proxy.url()), failure_mode="closed"))
        async with client_for(limiter) as client:
            response = await client.get("/")
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"].endswith("temporary-reduced-capacity")
            assert int(response.headers["retry-after"]) >= 1
            assert (await client.get("/livez")).status_code == 404  # exempt: reaches the app


async def test_open_failure_mode_lets_everything_through(redis_server: RedisServer) -> None:
    with FaultProxy(upstream=(redis_server.host, redis_server.port), mode="refuse") as proxy:
        limiter = RateLimiter(make_config(async_uri(proxy.url()), failure_mode="open"))
        async with client_for(limiter) as client:
            statuses = [(await client.get("/")).status_code for _ in range(10)]
            assert statuses == [200] * 10
            assert limiter.stats()["decisions"]["allowed_on_error"] == 10


async def test_fallback_is_scaled_per_worker(redis_server: RedisServer) -> None:
    with FaultProxy(upstream=(redis_server.host, redis_server.port), mode="refuse") as proxy:
        limiter = RateLimiter(make_config(async_uri(proxy.url()), default_limits="8/minute", workers=4))
        async with client_for(limiter) as client:
            responses = [await client.get("/") for _ in range(4)]
            assert [r.status_code for r in responses] == [200, 200, 429, 429]
            # The headers advertise the local quota in force while degraded.
            assert responses[0].headers["ratelimit-policy"] == '"default";q=2;w=60'


async def test_key_function_bug_does_not_trip_the_breaker(redis_server: RedisServer) -> None:
    def broken(scope: Any) -> str:
        raise RuntimeError("bug in key function")

    limiter = RateLimiter(make_config(async_uri(redis_server.url), key_func=broken))
    app = make_app(limiter)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for _ in range(5):
            with pytest.raises(RuntimeError, match="bug in key function"):
                await client.get("/")
    assert limiter.state == "closed"
    assert limiter.breaker is not None
    assert not limiter.breaker.errors
    await limiter.aclose()


async def test_lifespan_shutdown_cancels_the_probe(redis_server: RedisServer) -> None:
    with FaultProxy(upstream=(redis_server.host, redis_server.port), mode="refuse") as proxy:
        limiter = RateLimiter(make_config(async_uri(proxy.url())))
        app = make_app(limiter)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            for _ in range(3):
                await client.get("/")
        assert limiter.breaker is not None
        task = limiter.breaker._probe_task
        assert task is not None
        assert not task.done()

        messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return next(messages)

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(dict(message))

        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
        assert task.done()
        assert sent[-1]["type"] == "lifespan.shutdown.complete"
