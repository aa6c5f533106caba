"""Database: the async engine (pool sized by ``hardening.pool``) and AIOM's two tables.

SQLite (aiosqlite) by default, PostgreSQL (asyncpg) when ``DATABASE_URL`` says so. The
pool keyword arguments come from the validated :class:`hardening.PoolConfig`, so a fleet
whose pools do not fit the database refuses to start.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.schema import CreateIndex, CreateTable

from examples.aiom.settings import AIOMSettings, async_database_url

__all__ = ["ai_usage", "create_engine", "create_schema", "metadata", "operations", "utcnow"]

metadata = MetaData()

operations = Table(
    "operations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", String(200), nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    Column("priority", Integer, nullable=False, default=3),
    Column("notes", Text, nullable=False, default=""),
    Column("erp_reference", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_operations_status", "status"),
)

ai_usage = Table(
    "ai_usage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("operation_id", Integer, nullable=True),
    Column("provider", String(32), nullable=False),
    Column("model", String(64), nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cost_microusd", BigInteger, nullable=False),  # exact: millionths of a US dollar
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_ai_usage_created_at", "created_at"),
)

_SCHEMA_LOCK = 0x41494F4D  # "AIOM": serialises CREATE TABLE between workers on PostgreSQL


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(timezone.utc)


def is_sqlite(engine: AsyncEngine) -> bool:
    """Whether ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def create_engine(settings: AIOMSettings) -> AsyncEngine:
    """Create the async engine from ``DATABASE_URL`` and the validated pool settings."""
    url = async_database_url(settings.database_url.get_secret_value())
    kwargs: dict[str, Any] = settings.hardening.pool.sqlalchemy_async_engine_kwargs(driver="asyncpg")
    if url.startswith("sqlite"):
        # The pool sizing applies to SQLite too; the connect arguments are PostgreSQL
        # server settings (statement_timeout, application_name), so they are dropped.
        kwargs["connect_args"] = {"timeout": 15}
        engine = create_async_engine(url, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.close()

        return engine
    return create_async_engine(url, **kwargs)


async def create_schema(engine: AsyncEngine) -> None:
    """Create the tables and indexes if they do not exist (safe with several workers)."""
    async with engine.begin() as conn:
        if not is_sqlite(engine):
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        for table in metadata.sorted_tables:
            await conn.execute(CreateTable(table, if_not_exists=True))
            for index in table.indexes:
                await conn.execute(CreateIndex(index, if_not_exists=True))
