"""Health checks against REAL PostgreSQL and Redis servers (started by the fixtures)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.extras import import_extra

import_extra("asyncpg", "hardening[health]")
import_extra("sqlalchemy", "hardening[sqlalchemy]")

import asyncpg  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine  # noqa: E402

from hardening.health import (  # noqa: E402
    AsyncpgPoolCheck,
    HealthRegistry,
    PostgresCheck,
    RedisCheck,
    SQLAlchemyCheck,
)
from tests.health.helpers import body_of, client, make  # noqa: E402
from tests.health.schema import validate_health_json  # noqa: E402
from tests.servers import PostgresServer, RedisServer, free_port  # noqa: E402

pytestmark = [pytest.mark.anyio, pytest.mark.needs_extras]

DEADLINE = 0.8
MARGIN = 1.0
CANARY = "pg-password-canary-4242"


def asyncpg_url(server: PostgresServer, password: str | None = None) -> str:
    auth = server.user if password is None else f"{server.user}:{password}"
    return f"postgresql+asyncpg://{auth}@{server.host}:{server.port}/{server.dbname}"


def password_dsn(server: PostgresServer) -> str:
    """A DSN with a password (trust auth accepts it): it must never show up in an output."""
    return f"postgresql://{server.user}:{CANARY}@{server.host}:{server.port}/{server.dbname}"


async def wait_for_status(http: Any, path: str, status: int, *, within: float = 10.0) -> Any:
    """Probe ``path`` until it answers ``status`` (caches and hysteresis take a probe or two)."""
    deadline = time.monotonic() + within
    while True:
        started = time.monotonic()
        response = await http.get(path)
        assert time.monotonic() - started < DEADLINE + MARGIN  # every probe answers in time
        if response.status_code == status or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.05)


@pytest.mark.postgres
async def test_postgres_down_mid_run_then_recovers(postgres_server: PostgresServer) -> None:
    registry = HealthRegistry()
    registry.add("postgres:responseTime", PostgresCheck(password_dsn(postgres_server)), pass_ttl=0, fail_ttl=0)
    app = make(registry, details="always", deadline=DEADLINE, check_timeout=0.6)
    async with client(app) as http:
        up = await wait_for_status(http, "/readyz", 200)
        assert up.status_code == 200
        postgres_server.stop()
        down = await wait_for_status(http, "/readyz", 503)
        live = await http.get("/livez")
        health = await http.get("/health")
        postgres_server.start()
        back = await wait_for_status(http, "/readyz", 200)
    assert down.status_code == 503
    assert down.headers["retry-after"]
    item = body_of(down)["checks"]["postgres:responseTime"][0]
    assert item["status"] == "fail"
    assert item["output"]
    assert CANARY not in down.text
    assert CANARY not in health.text
    assert validate_health_json(body_of(health), health.status_code) == []
    assert live.status_code == 200
    assert back.status_code == 200
    await app.runtime.close()


@pytest.mark.redis
async def test_redis_stopped_mid_run(redis_server: RedisServer) -> None:
    registry = HealthRegistry()
    check = RedisCheck(redis_server.url, socket_timeout=0.5)
    registry.add("redis:responseTime", check, pass_ttl=0, fail_ttl=0)
    app = make(registry, details="always", deadline=DEADLINE, check_timeout=0.6)
    async with client(app) as http:
        assert (await wait_for_status(http, "/readyz", 200)).status_code == 200
        redis_server.stop()
        down = await wait_for_status(http, "/readyz", 503)
        redis_server.start()
        back = await wait_for_status(http, "/readyz", 200)
    assert down.status_code == 503
    assert body_of(down)["checks"]["redis:responseTime"][0]["status"] == "fail"
    assert back.status_code == 200
    assert body_of(back)["checks"]["redis:responseTime"][0]["observedUnit"] == "ms"
    await app.runtime.close()
    assert check._client is None  # the client it created is closed at shutdown


@pytest.mark.postgres
@pytest.mark.redis
async def test_critical_versus_informational(postgres_server: PostgresServer, redis_server: RedisServer) -> None:
    registry = HealthRegistry()
    registry.add("postgres:responseTime", PostgresCheck(postgres_server.url), pass_ttl=0, fail_ttl=0)
    registry.add("redis:responseTime", RedisCheck(redis_server.url, socket_timeout=0.5), critical=False, fail_ttl=0)
    app = make(registry, details="always", deadline=DEADLINE, check_timeout=0.6)
    async with client(app) as http:
        assert (await wait_for_status(http, "/readyz", 200)).status_code == 200
        redis_server.stop()
        await asyncio.sleep(0.1)
        degraded = await http.get("/readyz")
        while body_of(degraded)["status"] != "warn":
            degraded = await http.get("/readyz")
        assert degraded.status_code == 200
        assert body_of(degraded)["checks"]["redis:responseTime"][0]["status"] == "fail"
        postgres_server.stop()
        down = await wait_for_status(http, "/readyz", 503)
        assert down.status_code == 503
        postgres_server.start()
    await app.runtime.close()


async def _sqlalchemy_engine(server: PostgresServer, **kwargs: Any) -> AsyncEngine:
    return create_async_engine(asyncpg_url(server), **kwargs)


@pytest.mark.postgres
async def test_pool_saturated_is_warn_and_never_waits_on_the_pool(postgres_server: PostgresServer) -> None:
    engine = await _sqlalchemy_engine(postgres_server, pool_size=1, max_overflow=0, pool_timeout=30)
    registry = HealthRegistry()
    registry.add("postgres:connections", SQLAlchemyCheck(engine, use_app_pool=True), pass_ttl=0, fail_ttl=0)
    app = make(registry, details="always", deadline=DEADLINE, check_timeout=0.6)
    try:
        async with client(app) as http:
            healthy = await http.get("/readyz")
            async with engine.connect() as held:  # the app's only connection is in use
                await held.execute(text("SELECT 1"))
                started = time.monotonic()
                saturated = await http.get("/readyz")
                elapsed = time.monotonic() - started
    finally:
        await app.runtime.close()
        await engine.dispose()
    assert healthy.status_code == 200
    assert body_of(healthy)["checks"]["postgres:connections"][0]["status"] == "pass"
    assert saturated.status_code == 200  # warn: readiness stays up
    item = body_of(saturated)["checks"]["postgres:connections"][0]
    assert item["status"] == "warn"
    assert item["observedValue"]["in_use"] == 1
    assert item["observedValue"]["max"] == 1
    assert "waiting" in item["observedValue"]
    assert item["observedUnit"] == "connections"
    assert "pool saturated" in item["output"]
    assert elapsed < DEADLINE + MARGIN  # never queued behind pool_timeout=30


@pytest.mark.postgres
async def test_database_down_is_fail(postgres_server: PostgresServer) -> None:
    closed_port = free_port()
    engine = create_async_engine(
        f"postgresql+asyncpg://{postgres_server.user}:{CANARY}@127.0.0.1:{closed_port}/postgres", pool_size=1
    )
    registry = HealthRegistry()
    registry.add("postgres:connections", SQLAlchemyCheck(engine))
    app = make(registry, details="always", deadline=DEADLINE, check_timeout=0.6)
    try:
        async with client(app) as http:
            response = await http.get("/readyz")
    finally:
        await app.runtime.close()
        await engine.dispose()
    assert response.status_code == 503
    assert body_of(response)["checks"]["postgres:connections"][0]["status"] == "fail"
    assert CANARY not in response.text


async def _active_sleepers(server: PostgresServer) -> int:
    connection = await asyncpg.connect(server.url)
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(3)%' AND pid <> pg_backend_pid()"
        )
        return count
    finally:
        await connection.close()


@pytest.mark.postgres
@pytest.mark.parametrize("use_app_pool", [True, False])
async def test_timed_out_db_checks_leak_no_connection(postgres_server: PostgresServer, use_app_pool: bool) -> None:
    engine = await _sqlalchemy_engine(postgres_server, pool_size=2, max_overflow=0)
    async with engine.connect() as warm:  # an idle pooled connection, so the check uses the pool
        await warm.execute(text("SELECT 1"))
    check = SQLAlchemyCheck(engine, query="SELECT pg_sleep(3)", use_app_pool=use_app_pool)
    registry = HealthRegistry()
    registry.add("postgres:responseTime", check, timeout=0.2, fail_ttl=0)
    app = make(registry, deadline=0.5)
    try:
        for _ in range(5):
            report = await app.runtime.evaluate("readiness")
            assert report.status == "fail"
            assert "timeout" in (report.checks[0].result.output or "")
            while app.runtime._states["postgres:responseTime"].task is not None:
                await asyncio.sleep(0.01)
        assert app.runtime.executions["postgres:responseTime"] == 5
        assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        deadline = time.monotonic() + 2  # well before the 3 s sleeps would end by themselves
        while await _active_sleepers(postgres_server) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert await _active_sleepers(postgres_server) == 0  # no orphaned backend still running
    finally:
        await app.runtime.close()
        await engine.dispose()


@pytest.mark.postgres
async def test_asyncpg_pool_check_pass_and_saturated(postgres_server: PostgresServer) -> None:
    pool = await asyncpg.create_pool(postgres_server.url, min_size=1, max_size=1)
    registry = HealthRegistry()
    registry.add("postgres:connections", AsyncpgPoolCheck(pool), pass_ttl=0, fail_ttl=0)
    app = make(registry, details="always", deadline=DEADLINE, check_timeout=0.6)
    try:
        async with client(app) as http:
            healthy = await http.get("/readyz")
            async with pool.acquire():
                saturated = await http.get("/readyz")
    finally:
        await app.runtime.close()
        await pool.close()
    assert healthy.status_code == 200
    assert body_of(healthy)["checks"]["postgres:connections"][0]["status"] == "pass"
    assert saturated.status_code == 200
    assert body_of(saturated)["checks"]["postgres:connections"][0]["status"] == "warn"
