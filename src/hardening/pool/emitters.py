"""Turn a :class:`~hardening.pool.PoolConfig` into each driver's keyword arguments.

Drivers are imported lazily, only where a class must be passed (SQLAlchemy's ``NullPool``,
psycopg_pool's ``check_connection``).
"""

from __future__ import annotations

import math
import random
import uuid
from typing import Any, Protocol

from hardening._imports import require

__all__ = ("asyncpg_pool_kwargs", "libpq_connect_args", "psycopg_pool_kwargs", "server_settings", "sqlalchemy_kwargs")


class _PoolSettings(Protocol):
    """The fields of a :class:`~hardening.pool.PoolConfig` the emitters read (it is one)."""

    @property
    def pool_size(self) -> int: ...
    @property
    def max_overflow(self) -> int: ...
    @property
    def acquire_timeout(self) -> float: ...
    @property
    def connect_timeout(self) -> float: ...
    @property
    def recycle(self) -> float | None: ...
    @property
    def pre_ping(self) -> bool: ...
    @property
    def statement_timeout(self) -> float | None: ...
    @property
    def idle_in_transaction_timeout(self) -> float | None: ...
    @property
    def application_name(self) -> str | None: ...
    @property
    def pgbouncer_transaction_mode(self) -> bool: ...
    @property
    def prepared_statement_cache_size(self) -> int: ...
    @property
    def max_size(self) -> int: ...
    def jittered_recycle(self, rng: random.Random | None = None) -> float | None: ...


def _ms(seconds: float) -> str:
    return str(max(1, round(seconds * 1000)))


def server_settings(config: _PoolSettings) -> dict[str, str]:
    """The server-side settings a connection starts with (values in PostgreSQL's units).

    In PgBouncer transaction mode only ``application_name`` is sent: PgBouncer refuses
    other startup parameters. Set the timeouts on the role there instead
    (``ALTER ROLE app SET statement_timeout = '20s'``).
    """
    settings: dict[str, str] = {}
    if not config.pgbouncer_transaction_mode:
        if config.statement_timeout is not None:
            settings["statement_timeout"] = _ms(config.statement_timeout)
        if config.idle_in_transaction_timeout is not None:
            settings["idle_in_transaction_session_timeout"] = _ms(config.idle_in_transaction_timeout)
    if config.application_name is not None:
        settings["application_name"] = config.application_name
    return settings


def libpq_connect_args(config: _PoolSettings) -> dict[str, Any]:
    """Connection keywords for libpq drivers (psycopg 3, psycopg2).

    libpq's ``connect_timeout`` is whole seconds (rounded up here; libpq treats values
    below 2 as 2). Server settings travel as ``options="-c name=value ..."``, except
    ``application_name``, which has its own keyword.
    """
    args: dict[str, Any] = {"connect_timeout": max(2, math.ceil(config.connect_timeout))}
    settings = server_settings(config)
    name = settings.pop("application_name", None)
    if name is not None:
        args["application_name"] = name
    if settings:
        args["options"] = " ".join(f"-c {key}={value}" for key, value in settings.items())
    return args


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4()}__"


def sqlalchemy_kwargs(config: _PoolSettings, *, driver: str, rng: random.Random | None) -> dict[str, Any]:
    """Keyword arguments for ``create_engine`` / ``create_async_engine`` with ``driver``."""
    if driver == "asyncpg":
        connect_args: dict[str, Any] = {"timeout": config.connect_timeout}
        settings = server_settings(config)
        if settings:
            connect_args["server_settings"] = settings
        connect_args["prepared_statement_cache_size"] = config.prepared_statement_cache_size
        if config.pgbouncer_transaction_mode:
            # sqlalchemy#6467: disabling the caches is not enough behind PgBouncer; the
            # statements SQLAlchemy still prepares need names unique across connections.
            connect_args["statement_cache_size"] = 0
            connect_args["prepared_statement_name_func"] = _unique_statement_name
    elif driver in {"psycopg", "psycopg2"}:
        connect_args = libpq_connect_args(config)
        if driver == "psycopg" and (config.pgbouncer_transaction_mode or not config.prepared_statement_cache_size):
            connect_args["prepare_threshold"] = None
    else:
        msg = f"Unknown driver {driver!r}; expected 'asyncpg', 'psycopg' or 'psycopg2'."
        raise ValueError(msg)
    recycle = config.jittered_recycle(rng)
    kwargs: dict[str, Any] = {"connect_args": connect_args}
    if config.pgbouncer_transaction_mode:
        pool = require("sqlalchemy.pool", extra="sqlalchemy", feature="SQLAlchemy pool settings")
        kwargs["poolclass"] = pool.NullPool
    else:
        kwargs.update(
            pool_size=config.pool_size,
            max_overflow=config.max_overflow,
            pool_timeout=config.acquire_timeout,
            pool_pre_ping=config.pre_ping,
            pool_use_lifo=True,
        )
    kwargs["pool_recycle"] = -1 if recycle is None else recycle
    return kwargs


def asyncpg_pool_kwargs(config: _PoolSettings, *, rng: random.Random | None) -> dict[str, Any]:
    """Keyword arguments for ``asyncpg.create_pool``."""
    recycle = config.jittered_recycle(rng)
    kwargs: dict[str, Any] = {
        "min_size": config.pool_size,
        "max_size": config.max_size,
        "max_inactive_connection_lifetime": 0.0 if recycle is None else recycle,
        "timeout": config.connect_timeout,
        "statement_cache_size": config.prepared_statement_cache_size,
    }
    settings = server_settings(config)
    if settings:
        kwargs["server_settings"] = settings
    return kwargs


def psycopg_pool_kwargs(config: _PoolSettings, *, asynchronous: bool) -> dict[str, Any]:
    """Keyword arguments for ``psycopg_pool.AsyncConnectionPool`` / ``ConnectionPool``."""
    connect = libpq_connect_args(config)
    if config.pgbouncer_transaction_mode or not config.prepared_statement_cache_size:
        connect["prepare_threshold"] = None
    kwargs: dict[str, Any] = {
        "min_size": config.pool_size,
        "max_size": config.max_size,
        "timeout": config.acquire_timeout,
        "kwargs": connect,
    }
    if config.recycle is not None:
        kwargs["max_lifetime"] = config.recycle  # psycopg_pool jitters it by up to 5 % itself
    if config.pre_ping:
        module = require("psycopg_pool", extra="psycopg", feature="psycopg pool settings", package="psycopg-pool")
        cls = module.AsyncConnectionPool if asynchronous else module.ConnectionPool
        kwargs["check"] = cls.check_connection
    return kwargs
