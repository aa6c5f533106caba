"""``verify_budget``: check the pool budget against the numbers the server reports.

Opt-in, at start-up: one short connection reads ``max_connections``,
``superuser_reserved_connections``, ``reserved_connections`` (PostgreSQL 16+) and the
current connection count, then the budget is checked against those real numbers.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from hardening._imports import require
from hardening.errors import ConfigurationError
from hardening.pool.config import env_var

if TYPE_CHECKING:
    from hardening.pool.budget import PoolBudget
    from hardening.pool.config import PoolConfig

__all__ = ("LiveBudget", "verify_budget")

QUERY = """
SELECT current_setting('server_version') AS server_version,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS superuser_reserved,
       coalesce(current_setting('reserved_connections', true), '0')::int AS reserved,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS current
"""
"""The one query ``verify_budget`` runs (read-only; needs no privilege)."""

_DRIVER_SUFFIX = re.compile(r"^(postgres(?:ql)?)\+\w+://")


@dataclass(frozen=True, slots=True)
class LiveBudget:
    """What the server reported, and the budget checked against it.

    Attributes:
        server_version: The server's ``server_version``.
        max_connections: The server's ``max_connections``.
        superuser_reserved_connections: The server's ``superuser_reserved_connections``.
        reserved_connections: The server's ``reserved_connections`` (0 before PostgreSQL 16).
        current_connections: Client connections open when it was checked (this one included).
        budget: The budget arithmetic with the server's numbers.
        mismatches: Where the configured numbers differ from the server's, in words.
    """

    server_version: str
    max_connections: int
    superuser_reserved_connections: int
    reserved_connections: int
    current_connections: int
    budget: PoolBudget
    mismatches: tuple[str, ...]


def _plain_dsn(dsn: str) -> str:
    """Drop a SQLAlchemy driver suffix: ``postgresql+asyncpg://`` -> ``postgresql://``."""
    return _DRIVER_SUFFIX.sub(r"\1://", dsn)


async def _read_asyncpg(dsn: str, timeout: float) -> dict[str, Any]:
    asyncpg = require("asyncpg", extra="asyncpg", feature="live pool budget verification")
    conn = await asyncpg.connect(_plain_dsn(dsn), timeout=timeout, statement_cache_size=0)
    try:
        row = await conn.fetchrow(QUERY, timeout=timeout)
    finally:
        await conn.close(timeout=timeout)
    return dict(row)


async def _read_psycopg(dsn: str, timeout: float) -> dict[str, Any]:
    psycopg = require("psycopg", extra="psycopg", feature="live pool budget verification")
    rows = require("psycopg.rows", extra="psycopg", feature="live pool budget verification")
    conn = await psycopg.AsyncConnection.connect(
        _plain_dsn(dsn), connect_timeout=max(2, int(timeout + 0.999)), prepare_threshold=None
    )
    try:
        async with conn.cursor(row_factory=rows.dict_row) as cursor:
            await cursor.execute(QUERY)
            row = await cursor.fetchone()
    finally:
        await conn.close()
    return dict(row)


async def verify_budget(
    dsn: str, config: PoolConfig, *, driver: Literal["asyncpg", "psycopg"] = "asyncpg"
) -> LiveBudget:
    """Read the server's connection limits and check ``config``'s budget against them.

    The configured ``max_connections``, ``superuser_reserved_connections`` and
    ``reserved_connections`` are replaced by the server's; ``other_clients``, ``headroom``
    and the deployment facts are kept. Connections open now are reported, not subtracted:
    they include this service's own replicas.

    Args:
        dsn: A PostgreSQL DSN (``postgresql://``; a SQLAlchemy ``+driver`` suffix is dropped).
            It never appears in an error.
        config: The pool settings to check.
        driver: The driver to connect with.

    Returns:
        The server's numbers and the budget, when everything fits.

    Raises:
        ConfigurationError: When the pool does not fit the server's real limits (or breaks
            another rule of :meth:`PoolConfig.check`).
        TimeoutError: When the server does not answer within ``config.connect_timeout``
            (twice: to connect and to query).
    """
    read = _read_asyncpg if driver == "asyncpg" else _read_psycopg
    row = await asyncio.wait_for(read(dsn, config.connect_timeout), timeout=2 * config.connect_timeout + 1)
    real = {
        "max_connections": int(row["max_connections"]),
        "superuser_reserved_connections": int(row["superuser_reserved"]),
        "reserved_connections": int(row["reserved"]),
    }
    mismatches = tuple(
        f"{env_var(field)}: configured {getattr(config, field)}, server reports {value}"
        for field, value in real.items()
        if getattr(config, field) != value
    )
    checked = config.model_copy(update=real)
    try:
        budget = checked.check()
    except ConfigurationError as exc:
        msg = (
            f"{exc}\n(checked against the server's real limits: max_connections="
            f"{real['max_connections']}, superuser_reserved_connections="
            f"{real['superuser_reserved_connections']}, reserved_connections="
            f"{real['reserved_connections']}; {int(row['current'])} connections open now)"
        )
        raise ConfigurationError(msg, report=exc.report) from None
    return LiveBudget(
        server_version=str(row["server_version"]),
        max_connections=real["max_connections"],
        superuser_reserved_connections=real["superuser_reserved_connections"],
        reserved_connections=real["reserved_connections"],
        current_connections=int(row["current"]),
        budget=budget,
        mismatches=mismatches,
    )
