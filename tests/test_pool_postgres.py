"""Pool settings against a REAL PostgreSQL server: exhaustion, restart, live budget, emitted kwargs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from hardening import ConfigurationError
from hardening.pool import PoolConfig, pool_stats, verify_budget

if TYPE_CHECKING:
    from tests.servers import PostgresServer

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]

ACQUIRE_TIMEOUT = 2.0
MARGIN = 1.10  # the bound: the acquire timeout plus 10 percent


def small_pool(**overrides: Any) -> PoolConfig:
    values: dict[str, Any] = {
        "enabled": True,
        "workers": 1,
        "replicas": 1,
        "surge": 0,
        "max_connections": 50,
        "pool_size": 2,
        "max_overflow": 0,
        "acquire_timeout": ACQUIRE_TIMEOUT,
        "connect_timeout": 1.0,
        "application_name": "hardening-tests",
    }
    values.update(overrides)
    return PoolConfig(**values)


def sa_url(server: PostgresServer, driver: str) -> str:
    return server.url.replace("postgresql://", f"postgresql+{driver}://", 1)


async def hold(acquired: anyio.Event, release: anyio.Event, acquire: Any) -> None:
    async with acquire() as conn:
        assert conn is not None
        acquired.set()
        await release.wait()


async def time_third_acquire(acquire: Any, errors: tuple[type[BaseException], ...]) -> float:
    """Two tasks hold the pool's two connections; return how long the third waits to fail."""
    release = anyio.Event()
    async with anyio.create_task_group() as group:
        for _ in range(2):
            acquired = anyio.Event()
            group.start_soon(hold, acquired, release, acquire)
            with anyio.fail_after(10):
                await acquired.wait()
        started = time.monotonic()
        with anyio.fail_after(ACQUIRE_TIMEOUT * 3), pytest.raises(errors):  # never hang
            async with acquire():
                pass
        elapsed = time.monotonic() - started
        release.set()
    return elapsed


@pytest.fixture
async def async_engine(postgres_server: PostgresServer) -> AsyncIterator[Any]:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(sa_url(postgres_server, "asyncpg"), **small_pool().sqlalchemy_async_engine_kwargs())
    try:
        yield engine
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- exhaustion


async def test_sqlalchemy_third_holder_fails_within_acquire_timeout(async_engine: Any) -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    elapsed = await time_third_acquire(async_engine.connect, (PoolTimeout,))

    assert ACQUIRE_TIMEOUT * 0.9 <= elapsed <= ACQUIRE_TIMEOUT * MARGIN
    assert pool_stats(async_engine).in_use == 0  # both holders returned their connections


async def test_asyncpg_pool_third_holder_fails_within_acquire_timeout(postgres_server: PostgresServer) -> None:
    import asyncpg

    config = small_pool()
    pool = await asyncpg.create_pool(postgres_server.url, **config.asyncpg_pool_kwargs())
    try:
        elapsed = await time_third_acquire(
            lambda: pool.acquire(timeout=config.acquire_timeout), (asyncio.TimeoutError, TimeoutError)
        )
    finally:
        await pool.close()

    assert ACQUIRE_TIMEOUT * 0.9 <= elapsed <= ACQUIRE_TIMEOUT * MARGIN


async def test_pool_stats_show_saturation_and_waiters(async_engine: Any, postgres_server: PostgresServer) -> None:
    import asyncpg

    config = small_pool(acquire_timeout=5.0)
    pool = await asyncpg.create_pool(postgres_server.url, **config.asyncpg_pool_kwargs())
    try:
        for target, acquire in ((async_engine, async_engine.connect), (pool, lambda: pool.acquire(timeout=5))):
            release = anyio.Event()
            async with anyio.create_task_group() as group:
                for _ in range(3):  # two hold, the third waits
                    group.start_soon(hold, anyio.Event(), release, acquire)
                with anyio.fail_after(10):
                    while (stats := pool_stats(target)).waiting != 1:
                        await anyio.sleep(0.01)
                assert (stats.in_use, stats.size, stats.max_size) == (2, 2, 2)
                assert stats.saturated
                release.set()
            after = pool_stats(target)
            assert (after.in_use, after.waiting, after.saturated) == (0, 0, False)
    finally:
        await pool.close()


# --------------------------------------------------------------------------- restart


async def test_next_checkout_after_a_server_restart_succeeds(
    async_engine: Any, postgres_server: PostgresServer
) -> None:
    from sqlalchemy import text

    async with async_engine.connect() as conn:
        before = await conn.scalar(text("SELECT pg_backend_pid()"))
    assert pool_stats(async_engine).size == 1  # an idle pooled connection to the old server

    await anyio.to_thread.run_sync(postgres_server.stop)
    await anyio.to_thread.run_sync(postgres_server.start)

    async with async_engine.connect() as conn:  # pre-ping replaces the dead connection
        after = await conn.scalar(text("SELECT pg_backend_pid()"))
    assert after != before


def test_sync_psycopg_engine_survives_a_restart(postgres_server: PostgresServer) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(sa_url(postgres_server, "psycopg"), **small_pool().sqlalchemy_engine_kwargs())
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT 1")) == 1
        postgres_server.stop()
        postgres_server.start()
        with engine.connect() as conn:
            assert conn.scalar(text("SHOW application_name")) == "hardening-tests"
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- live budget


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
async def test_live_verification_reads_the_real_max_connections(postgres_server: PostgresServer, driver: Any) -> None:
    config = small_pool(max_connections=100)  # declared wrong on purpose: the server has 50

    live = await verify_budget(postgres_server.url, config, driver=driver)

    assert live.max_connections == 50
    assert live.superuser_reserved_connections == 3
    assert live.reserved_connections == 0
    assert live.current_connections >= 1
    assert live.budget.usable == 47
    assert live.mismatches == ("HARDENING_POOL__MAX_CONNECTIONS: configured 100, server reports 50",)
    assert live.server_version


async def test_live_verification_refuses_what_only_fits_the_declared_numbers(
    postgres_server: PostgresServer,
) -> None:
    config = small_pool(max_connections=100, workers=6, pool_size=5, max_overflow=5)  # 60 <= 97 declared
    assert config.check().fits

    with pytest.raises(ConfigurationError) as info:
        await verify_budget(sa_url(postgres_server, "asyncpg"), config)

    message = str(info.value)
    assert "1 replica x 6 workers x (5 + 5) = 60 > 47 usable (50 max - 3 superuser)" in message
    assert "max_connections=50" in message
    assert postgres_server.url not in message


# --------------------------------------------------------------------------- emitted kwargs


SHOW = ("statement_timeout", "idle_in_transaction_session_timeout", "application_name")
EXPECTED = ["2s", "1min", "hardening-tests"]


async def test_sqlalchemy_async_kwargs_set_the_server_side_timeouts(postgres_server: PostgresServer) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.ext.asyncio import create_async_engine

    config = small_pool(statement_timeout=2.0, idle_in_transaction_timeout=60.0)
    for driver in ("asyncpg", "psycopg"):
        engine = create_async_engine(
            sa_url(postgres_server, driver),
            **config.sqlalchemy_async_engine_kwargs(driver=driver),
        )
        try:
            async with engine.connect() as conn:
                assert [await conn.scalar(text(f"SHOW {name}")) for name in SHOW] == EXPECTED
                with pytest.raises(DBAPIError, match="statement timeout"):
                    await conn.execute(text("SELECT pg_sleep(5)"))
        finally:
            await engine.dispose()


async def test_asyncpg_pool_kwargs_work_with_asyncpg(postgres_server: PostgresServer) -> None:
    import asyncpg

    config = small_pool(statement_timeout=2.0)
    async with asyncpg.create_pool(postgres_server.url, **config.asyncpg_pool_kwargs()) as pool:
        async with pool.acquire(timeout=config.acquire_timeout) as conn:
            assert [await conn.fetchval(f"SHOW {name}") for name in SHOW] == EXPECTED
        stats = pool_stats(pool)
        assert (stats.size, stats.max_size, stats.in_use) == (2, 2, 0)  # min_size opened eagerly


async def test_psycopg_pool_kwargs_work_with_psycopg_pool(postgres_server: PostgresServer) -> None:
    from psycopg_pool import AsyncConnectionPool

    config = small_pool(statement_timeout=2.0)
    pool = AsyncConnectionPool(postgres_server.url, open=False, **config.psycopg_pool_kwargs())
    await pool.open(wait=True, timeout=10)
    try:
        async with pool.connection() as conn:
            cursor = await conn.execute("SHOW statement_timeout")
            assert await cursor.fetchone() == ("2s",)
        assert pool_stats(pool).max_size == 2
    finally:
        await pool.close()


async def test_pgbouncer_mode_kwargs_connect_and_run_queries(postgres_server: PostgresServer) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    config = small_pool(pgbouncer_transaction_mode=True, prepared_statement_cache_size=0)
    engine = create_async_engine(sa_url(postgres_server, "asyncpg"), **config.sqlalchemy_async_engine_kwargs())
    try:
        for _ in range(3):
            async with engine.connect() as conn:
                assert await conn.scalar(text("SELECT CAST(:x AS integer)"), {"x": 41}) == 41
                assert await conn.scalar(text("SHOW application_name")) == "hardening-tests"
        with pytest.raises(TypeError):
            pool_stats(engine)  # NullPool keeps no statistics
    finally:
        await engine.dispose()


async def test_live_verification_never_echoes_the_password(postgres_server: PostgresServer) -> None:
    canary = "canary-Secr3t-pool"
    dsn = f"postgresql://{postgres_server.user}:{canary}@{postgres_server.host}:{postgres_server.port}/postgres"
    config = small_pool(max_connections=100, workers=6, pool_size=5, max_overflow=5)  # fits 97, not 47

    with pytest.raises(ConfigurationError) as info:
        await verify_budget(dsn, config)  # trust authentication ignores the password
    with pytest.raises(ConnectionRefusedError) as refused:  # nothing listens on port 1
        await verify_budget(dsn.replace(f":{postgres_server.port}/", ":1/"), config)

    for error in (info.value, refused.value):
        assert canary not in str(error)
        assert canary not in repr(error)
