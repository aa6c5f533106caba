"""Database checks: SQLAlchemy async engine, asyncpg pool, PostgreSQL by DSN.

The pool-aware checks tell "pool saturated" (``warn``, with in-use/size/waiting as the
observed value) from "database down" (``fail``). The probe never waits on the app's
saturated pool: reachability is checked over a dedicated connection that bypasses
the pool, so a busy pool cannot fail the probe and a timed-out probe cannot leak one
of the app's connections. Drivers are imported lazily.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hardening._imports import require
from hardening.health.result import CheckResult
from hardening.redaction import REDACTED, redact_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ("AsyncpgPoolCheck", "PostgresCheck", "SQLAlchemyCheck")


def _pool_usage(in_use: int, size: int, capacity: int, waiting: int | None) -> dict[str, int]:
    usage = {"in_use": in_use, "size": size, "max": capacity}
    if waiting is not None:
        usage["waiting"] = waiting
    return usage


def _saturated(usage: dict[str, int]) -> bool:
    return usage["max"] > 0 and usage["in_use"] >= usage["max"]


async def _query_and_close(connection: Any, query: str) -> None:
    """Run ``query`` on a dedicated asyncpg connection, then close it (even when cancelled)."""
    try:
        await connection.fetchval(query)
    finally:
        await asyncio.shield(connection.close(timeout=1))


class SQLAlchemyCheck:
    """Check an SQLAlchemy ``AsyncEngine``: database reachable and pool not saturated.

    Reachability runs ``SELECT 1`` over a dedicated connection (a ``NullPool`` engine
    sharing the app engine's URL and connect arguments), so the probe never queues
    behind the app's requests and never holds one of the app's pooled connections.
    With ``use_app_pool=True`` an idle pooled connection is used instead when there
    is one (checking the pool's own connections), falling back to the dedicated one.

    Args:
        engine: The app's async engine.
        query: The statement to run.
        use_app_pool: Probe through the app's pool when it has an idle connection.
    """

    component_type = "datastore"

    def __init__(self, engine: AsyncEngine, *, query: str = "SELECT 1", use_app_pool: bool = False) -> None:
        self.engine = engine
        self.query = query
        self.use_app_pool = use_app_pool
        self._probe: AsyncEngine | None = None

    def _usage(self) -> dict[str, int] | None:
        pool = self.engine.sync_engine.pool
        size_of = getattr(pool, "size", None)
        checkedout = getattr(pool, "checkedout", None)
        if size_of is None or checkedout is None:
            return None
        size = int(size_of())
        overflow = max(int(getattr(pool, "_max_overflow", 0)), 0)
        queue = getattr(getattr(pool, "_pool", None), "_queue", None)
        getters = getattr(queue, "_getters", None)
        waiting = len(getters) if getters is not None else None
        return _pool_usage(int(checkedout()), size, size + overflow, waiting)

    def _probe_engine(self) -> AsyncEngine:
        if self._probe is None:
            asyncio_ext = require("sqlalchemy.ext.asyncio", extra="sqlalchemy", feature="the SQLAlchemy health check")
            pool_module = require("sqlalchemy.pool", extra="sqlalchemy", feature="the SQLAlchemy health check")
            sync_pool = self.engine.sync_engine.pool
            creator = getattr(sync_pool, "_creator", None)
            if creator is not None:
                pool = pool_module.NullPool(creator, dialect=getattr(sync_pool, "_dialect", None))
                self._probe = asyncio_ext.create_async_engine(self.engine.url, pool=pool)
            else:
                self._probe = asyncio_ext.create_async_engine(self.engine.url, poolclass=pool_module.NullPool)
        return self._probe

    async def __call__(self) -> CheckResult:
        """Run the check (see the class docs)."""
        sql = require("sqlalchemy", extra="sqlalchemy", feature="the SQLAlchemy health check")
        usage = self._usage()
        saturated = usage is not None and _saturated(usage)
        pool = self.engine.sync_engine.pool
        idle = int(getattr(pool, "checkedin", lambda: 0)())
        engine = self.engine if self.use_app_pool and idle > 0 and not saturated else self._probe_engine()
        started = time.perf_counter()
        async with engine.connect() as connection:
            await connection.execute(sql.text(self.query))
        elapsed = round((time.perf_counter() - started) * 1000, 3)
        if saturated and usage is not None:
            waiting = f", {usage['waiting']} waiting" if usage.get("waiting") else ""
            return CheckResult.warned(
                f"pool saturated ({usage['in_use']}/{usage['max']} in use{waiting})",
                observed_value=usage,
                observed_unit="connections",
            )
        if usage is not None:
            return CheckResult.passed({**usage, "response_ms": elapsed}, "connections")
        return CheckResult.passed(elapsed, "ms")

    async def aclose(self) -> None:
        """Dispose of the dedicated probe engine (the app's engine is left alone)."""
        if self._probe is not None:
            await self._probe.dispose()
            self._probe = None

    def __repr__(self) -> str:
        return f"SQLAlchemyCheck({redact_url(str(self.engine.url))!r})"


class AsyncpgPoolCheck:
    """Check an ``asyncpg.Pool``: database reachable and pool not saturated.

    An idle pooled connection runs the query when there is one; when the pool is
    saturated a dedicated connection with the pool's connect arguments is used, so
    the probe never waits for the app's connections.

    Args:
        pool: The app's asyncpg pool.
        query: The statement to run.
    """

    component_type = "datastore"

    def __init__(self, pool: Any, *, query: str = "SELECT 1") -> None:
        self.pool = pool
        self.query = query

    async def __call__(self) -> CheckResult:
        """Run the check (see the class docs)."""
        asyncpg = require("asyncpg", extra="health", feature="the asyncpg health check")
        pool = self.pool
        size, idle, capacity = pool.get_size(), pool.get_idle_size(), pool.get_max_size()
        usage = _pool_usage(size - idle, size, capacity, None)
        saturated = _saturated(usage)
        if idle > 0:
            connection = await pool.acquire()
            try:
                await connection.fetchval(self.query)
            finally:
                await asyncio.shield(pool.release(connection))
        else:
            args = list(getattr(pool, "_connect_args", ()))
            kwargs = dict(getattr(pool, "_connect_kwargs", {}))
            await _query_and_close(await asyncpg.connect(*args, **kwargs), self.query)
        if saturated:
            return CheckResult.warned(
                f"pool saturated ({usage['in_use']}/{usage['max']} in use)",
                observed_value=usage,
                observed_unit="connections",
            )
        return CheckResult.passed(usage, "connections")


class PostgresCheck:
    """Open a fresh connection to PostgreSQL by DSN and run ``SELECT 1``.

    Uses asyncpg when installed, else psycopg (async). The DSN's password never
    appears in an output: failures are redacted.

    Args:
        dsn: ``postgresql://user:password@host:port/db``.
        query: The statement to run.
        connect_timeout: Seconds allowed to connect (the check's timeout still applies).
    """

    component_type = "datastore"

    def __init__(self, dsn: str, *, query: str = "SELECT 1", connect_timeout: float = 5.0) -> None:
        self._dsn = dsn
        self.query = query
        self.connect_timeout = connect_timeout

    async def __call__(self) -> None:
        """Run the check; raises when the database cannot be reached (password masked)."""
        try:
            await self._probe()
        except Exception as exc:
            password = urlsplit(self._dsn).password
            message = f"{type(exc).__name__}: {exc}"
            if password and password in message:
                raise ConnectionError(message.replace(password, REDACTED)) from None
            raise

    async def _probe(self) -> None:
        try:
            asyncpg = require("asyncpg", extra="health", feature="the PostgreSQL health check")
        except ImportError:
            psycopg = require("psycopg", extra="psycopg", feature="the PostgreSQL health check")
            aconn = await psycopg.AsyncConnection.connect(
                self._dsn, connect_timeout=max(1, round(self.connect_timeout))
            )
            try:
                await aconn.execute(self.query)
            finally:
                await asyncio.shield(aconn.close())
            return
        dsn = self._dsn.replace("postgresql+asyncpg://", "postgresql://", 1)
        await _query_and_close(await asyncpg.connect(dsn, timeout=self.connect_timeout), self.query)

    def __repr__(self) -> str:
        return f"PostgresCheck({redact_url(self._dsn)!r})"
