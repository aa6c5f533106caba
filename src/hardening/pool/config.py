"""``PoolConfig``: one validated pool model for SQLAlchemy, asyncpg and psycopg_pool.

Every pool checks its own knobs (min at most max, positive numbers). None checks the
arithmetic that takes production down: replicas times workers times (pool size plus
overflow) against what PostgreSQL accepts. :meth:`PoolConfig.check` does, along with the
timeout ladder and the PgBouncer rules, and fails with the numbers in the message. It
never clamps a value. No database driver is imported here.
"""

from __future__ import annotations

import math
import os
import random
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from hardening._config import LayerConfig
from hardening._config import env_var as setting_env_var
from hardening.errors import ConfigurationError
from hardening.pool import emitters
from hardening.pool.budget import PoolBudget

__all__ = ("ENV_PREFIX", "PoolConfig", "env_var", "workers_from_environment")

ENV_PREFIX = "HARDENING_POOL__"
"""The prefix of every pool setting's environment variable."""

DEFAULT_SURGE_FRACTION = 0.25
"""Kubernetes' default ``maxSurge`` for a rolling update: 25 %, rounded up."""


def env_var(field: str) -> str:
    """Return the environment variable of a ``PoolConfig`` field, e.g. ``HARDENING_POOL__POOL_SIZE``."""
    return setting_env_var(f"pool.{field}")


def _name(field: str) -> str:
    return f"pool.{field} ({env_var(field)})"


def workers_from_environment() -> int:
    """Return ``WEB_CONCURRENCY`` as an integer, or 1 when it is not set.

    ``WEB_CONCURRENCY`` is the worker count that uvicorn, gunicorn and most platforms
    (Heroku, Render, Dokku) read; it is the default of :attr:`PoolConfig.workers`.

    Raises:
        ConfigurationError: When ``WEB_CONCURRENCY`` is set but is not a positive integer.
    """
    raw = os.environ.get("WEB_CONCURRENCY", "").strip()
    if not raw:
        return 1
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        msg = (
            f"WEB_CONCURRENCY is {raw[:20]!r}; expected a positive integer (the number of worker "
            f"processes). Fix WEB_CONCURRENCY or set {env_var('workers')} explicitly."
        )
        raise ConfigurationError(msg)
    return value


def _seconds(value: float) -> str:
    return f"{value:g} s"


class PoolConfig(LayerConfig):
    """Database pool settings validated against the fleet's real connection budget.

    Not a middleware: it describes the pool each worker process opens and the deployment
    it runs in, and emits keyword arguments for SQLAlchemy, asyncpg and psycopg_pool.
    With ``enabled`` on, the budget and the timeout ladder are checked as soon as the
    settings load; the emitters check them every time, whatever ``enabled`` says.

    Example::

        config = PoolConfig(pool_size=5, max_overflow=5, replicas=3, workers=4)
        engine = create_async_engine(url, **config.sqlalchemy_async_engine_kwargs())
    """

    enabled: bool = False
    """Check the budget and timeout ladder when the settings load, and run the production
    rules. Off by default because a service without a database has no pool; turn it on
    when the service uses one."""

    # ------------------------------------------------------------------ the pool
    pool_size: int = Field(default=5, ge=1, le=10_000)
    """Steady connections per pool (SQLAlchemy ``pool_size``, asyncpg/psycopg ``min_size``).
    At least 1: SQLAlchemy's ``pool_size=0`` means *no limit*."""
    max_overflow: int = Field(default=5, ge=0, le=10_000)
    """Extra connections per pool under load, closed when returned; the hard cap is
    ``pool_size + max_overflow``. SQLAlchemy's ``-1`` (unlimited) is refused."""
    acquire_timeout: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    """Seconds a request waits for a free connection before failing (SQLAlchemy
    ``pool_timeout``, psycopg_pool ``timeout``, asyncpg ``acquire(timeout=)``)."""
    connect_timeout: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    """Seconds to open one new connection (libpq ``connect_timeout``, asyncpg ``timeout``)."""
    recycle: float | None = Field(default=1800.0, gt=0, allow_inf_nan=False)
    """Seconds after which a connection is replaced (SQLAlchemy ``pool_recycle``, psycopg
    ``max_lifetime``, asyncpg ``max_inactive_connection_lifetime``). Must stay below every
    idle timeout of the server and proxies. ``None`` never recycles."""
    recycle_jitter: float = Field(default=0.1, ge=0, le=0.5, allow_inf_nan=False)
    """Fraction of ``recycle`` taken off at random per process (0.1 = up to 10 % sooner),
    so a fleet started together does not reconnect all at once. Only ever shortens."""
    pre_ping: bool = True
    """Test a connection before handing it out, so a database restart or failover costs a
    reconnect instead of an error (SQLAlchemy ``pool_pre_ping``, psycopg ``check``)."""
    statement_timeout: float | None = Field(default=20.0, gt=0, allow_inf_nan=False)
    """Server-side ``statement_timeout`` in seconds, so a runaway query cannot hold a
    connection past the request. ``None`` leaves the server's setting."""
    idle_in_transaction_timeout: float | None = Field(default=60.0, gt=0, allow_inf_nan=False)
    """Server-side ``idle_in_transaction_session_timeout`` in seconds: the server ends a
    session left idle inside a transaction. ``None`` leaves the server's setting."""
    application_name: str | None = Field(default=None, min_length=1, max_length=63)
    """``application_name`` shown in ``pg_stat_activity``; printable ASCII, at most 63
    characters. ``None`` leaves the driver's default."""
    pgbouncer_transaction_mode: bool = False
    """The pool connects through PgBouncer in transaction (or statement) mode: SQLAlchemy
    gets ``NullPool``, startup parameters other than ``application_name`` are not sent,
    and the prepared-statement cache must be 0."""
    prepared_statement_cache_size: int = Field(default=100, ge=0, le=100_000)
    """Prepared statements cached per connection (asyncpg ``statement_cache_size``,
    SQLAlchemy's asyncpg ``prepared_statement_cache_size``); 0 disables them, which
    PgBouncer transaction mode needs."""

    # ------------------------------------------------------------ the deployment
    workers: int = Field(default_factory=workers_from_environment, ge=1, le=10_000)
    """Worker processes per replica, each with its own pools. Defaults to
    ``WEB_CONCURRENCY`` when it is set at load time, else 1."""
    replicas: int = Field(default=1, ge=1, le=100_000)
    """Replicas (pods, containers, machines) at the most: the autoscaler's maximum."""
    surge: int | None = Field(default=None, ge=0, le=100_000)
    """Extra replicas alive during a rolling update (Kubernetes ``maxSurge``). ``None``
    assumes Kubernetes' default, 25 % of ``replicas`` rounded up."""
    pools_per_process: int = Field(default=1, ge=1, le=100)
    """Pools each process opens (a read and a write engine count as 2)."""
    max_connections: int = Field(default=100, ge=1, le=1_000_000)
    """The database's ``max_connections`` (PostgreSQL's default is 100). Behind PgBouncer
    in transaction mode, PgBouncer's ``max_client_conn``."""
    superuser_reserved_connections: int = Field(default=3, ge=0, le=1_000_000)
    """``superuser_reserved_connections``: slots only superusers may use (default 3)."""
    reserved_connections: int = Field(default=0, ge=0, le=1_000_000)
    """PostgreSQL 16+ ``reserved_connections`` for roles with ``pg_use_reserved_connections``."""
    other_clients: int = Field(default=0, ge=0, le=1_000_000)
    """Connections other clients hold at the peak: migrations, cron and queue workers,
    admin and BI tools, monitoring, replication tooling."""
    headroom: float = Field(default=0.0, ge=0, le=0.9, allow_inf_nan=False)
    """Fraction of ``max_connections`` kept free on purpose (0.1 keeps 10 %)."""
    request_timeout: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    """Seconds a request may take end to end (server or load balancer timeout); the
    acquire timeout and statement timeout must fit inside it."""
    server_idle_timeout: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Seconds after which the server closes an idle session (PostgreSQL 14+
    ``idle_session_timeout``), if any; ``recycle`` must be below it."""
    proxy_idle_timeout: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Seconds after which a proxy, load balancer or NAT drops an idle connection
    (PgBouncer ``client_idle_timeout``, AWS NLB 350 s), if any; ``recycle`` must be below it."""

    @field_validator("application_name")
    @classmethod
    def _printable_ascii(cls, value: str | None) -> str | None:
        if value is not None and not (value.isascii() and value.isprintable()):
            msg = (
                f"{_name('application_name')} must be printable ASCII (PostgreSQL replaces other "
                "characters with '?'); use letters, digits, '-', '_' or '.'."
            )
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _check_when_enabled(self) -> PoolConfig:
        if self.enabled:
            self.check()
        return self

    # ------------------------------------------------------------------ derived
    @property
    def max_size(self) -> int:
        """The most connections one pool holds: ``pool_size + max_overflow``."""
        return self.pool_size + self.max_overflow

    @property
    def effective_surge(self) -> int:
        """``surge``, or 25 % of ``replicas`` rounded up when ``surge`` is ``None``."""
        if self.surge is not None:
            return self.surge
        return math.ceil(self.replicas * DEFAULT_SURGE_FRACTION)

    def budget(self) -> PoolBudget:
        """Return the fleet's budget arithmetic, without judging it."""
        return PoolBudget(
            replicas=self.replicas,
            surge=self.effective_surge,
            workers=self.workers,
            pools_per_process=self.pools_per_process,
            pool_size=self.pool_size,
            max_overflow=self.max_overflow,
            max_connections=self.max_connections,
            superuser_reserved=self.superuser_reserved_connections,
            reserved=self.reserved_connections,
            other_clients=self.other_clients,
            headroom=math.ceil(self.headroom * self.max_connections),
        )

    def problems(self) -> list[str]:
        """Return every rule this configuration breaks, as messages (empty when it is sound).

        The rules: the fleet's peak fits the usable connections; the timeout ladder
        ``connect_timeout < acquire_timeout < request_timeout`` and
        ``statement_timeout <= request_timeout``; ``recycle`` below the server's and the
        proxy's idle timeouts; no prepared-statement cache in PgBouncer transaction mode.
        """
        found: list[str] = []
        budget = self.budget()
        if budget.usable <= 0:
            found.append(
                f"No connection is left for the application: {budget.usable_arithmetic()}. "
                f"Lower {_name('other_clients')}, {_name('reserved_connections')} or "
                f"{_name('headroom')}, or raise {_name('max_connections')}."
            )
        elif not budget.fits:
            cap = budget.per_process_cap
            fix = f"at most {cap} connections per process fit" if cap else "not even one connection per process fits"
            found.append(
                f"Connection budget exceeded: {budget.arithmetic()}; {fix}. Lower pool.pool_size / "
                f"pool.max_overflow ({env_var('pool_size')}, {env_var('max_overflow')}), run fewer "
                f"workers or replicas (pool.workers, pool.replicas, pool.surge: {env_var('workers')} or "
                f"WEB_CONCURRENCY, {env_var('replicas')}, {env_var('surge')}), raise max_connections "
                f"(pool.max_connections, {env_var('max_connections')}), or put PgBouncer in front of "
                "the database."
            )
        if self.connect_timeout >= self.acquire_timeout:
            found.append(
                f"Timeout ladder broken: {_name('connect_timeout')} is "
                f"{_seconds(self.connect_timeout)} but must be below {_name('acquire_timeout')} = "
                f"{_seconds(self.acquire_timeout)}, so a slow connect fails before the wait for a "
                "connection gives up. Lower the connect timeout or raise the acquire timeout."
            )
        if self.acquire_timeout >= self.request_timeout:
            found.append(
                f"Timeout ladder broken: {_name('acquire_timeout')} is "
                f"{_seconds(self.acquire_timeout)} but must be below {_name('request_timeout')} = "
                f"{_seconds(self.request_timeout)}, so a request starved of connections gets a clean "
                "503 instead of being cut off by the server. Lower the acquire timeout."
            )
        if self.statement_timeout is not None and self.statement_timeout > self.request_timeout:
            found.append(
                f"Timeout ladder broken: {_name('statement_timeout')} is "
                f"{_seconds(self.statement_timeout)} but must be at most {_name('request_timeout')} = "
                f"{_seconds(self.request_timeout)}; otherwise a query keeps running after its request "
                "was abandoned. Lower the statement timeout."
            )
        for field in ("server_idle_timeout", "proxy_idle_timeout"):
            idle: float | None = getattr(self, field)
            if idle is None:
                continue
            if self.recycle is None:
                found.append(
                    f"Lifetime ladder broken: {_name('recycle')} is off but {_name(field)} closes "
                    f"idle connections after {_seconds(idle)}; set the recycle below "
                    f"{_seconds(idle)} (a few seconds less) so the pool replaces them first."
                )
            elif self.recycle >= idle:
                found.append(
                    f"Lifetime ladder broken: {_name('recycle')} is {_seconds(self.recycle)} but "
                    f"must be below {_name(field)} = {_seconds(idle)} (a few seconds less), so the "
                    "pool replaces connections before they are cut. Lower the recycle."
                )
        if self.pgbouncer_transaction_mode and self.prepared_statement_cache_size:
            found.append(
                f"{_name('pgbouncer_transaction_mode')} is on but "
                f"{_name('prepared_statement_cache_size')} is {self.prepared_statement_cache_size}: "
                "PgBouncer in transaction mode hands each transaction to any server connection, so "
                "cached prepared statements fail with 'prepared statement does not exist'. Set "
                f"{env_var('prepared_statement_cache_size')}=0."
            )
        return found

    def check(self) -> PoolBudget:
        """Validate the budget, the timeout ladder and the PgBouncer rules.

        Returns:
            The budget arithmetic, when everything fits.

        Raises:
            ConfigurationError: Listing every broken rule with the settings, their
                environment variables and the numbers.
        """
        found = self.problems()
        if found:
            lines = "\n".join(f"  - {line}" for line in found)
            msg = f"Database pool settings do not fit the deployment:\n{lines}"
            raise ConfigurationError(msg, report=tuple(found))
        return self.budget()

    def jittered_recycle(self, rng: random.Random | None = None) -> float | None:
        """Return ``recycle`` shortened by a random fraction up to ``recycle_jitter``.

        Args:
            rng: The random source (for tests); the module's generator by default.
        """
        if self.recycle is None:
            return None
        draw = (rng or random).random()
        return self.recycle * (1.0 - self.recycle_jitter * draw)

    # ------------------------------------------------------------------ emitters
    def sqlalchemy_engine_kwargs(
        self, *, driver: Literal["psycopg", "psycopg2"] = "psycopg", rng: random.Random | None = None
    ) -> dict[str, Any]:
        """Keyword arguments for SQLAlchemy's ``create_engine`` (sync).

        Validates first (:meth:`check`). In PgBouncer transaction mode the pool class is
        ``NullPool`` (SQLAlchemy is imported for it, lazily).

        Args:
            driver: The DBAPI in the URL: ``postgresql+psycopg://`` or ``postgresql+psycopg2://``.
            rng: The random source for the recycle jitter (for tests).
        """
        self.check()
        return emitters.sqlalchemy_kwargs(self, driver=driver, rng=rng)

    def sqlalchemy_async_engine_kwargs(
        self, *, driver: Literal["asyncpg", "psycopg"] = "asyncpg", rng: random.Random | None = None
    ) -> dict[str, Any]:
        """Keyword arguments for SQLAlchemy's ``create_async_engine``.

        Validates first (:meth:`check`). ``connect_args`` set the server-side timeouts and
        ``application_name`` in the driver's own form: ``server_settings`` for asyncpg,
        ``options="-c ..."`` for psycopg.

        Args:
            driver: The driver in the URL: ``postgresql+asyncpg://`` or ``postgresql+psycopg://``.
            rng: The random source for the recycle jitter (for tests).
        """
        self.check()
        return emitters.sqlalchemy_kwargs(self, driver=driver, rng=rng)

    def asyncpg_pool_kwargs(self, *, rng: random.Random | None = None) -> dict[str, Any]:
        """Keyword arguments for ``asyncpg.create_pool(dsn, **kwargs)``.

        asyncpg has no acquire timeout on the pool: always acquire with
        ``pool.acquire(timeout=config.acquire_timeout)``. It has no maximum lifetime either;
        the (jittered) ``recycle`` becomes ``max_inactive_connection_lifetime``.

        Args:
            rng: The random source for the recycle jitter (for tests).
        """
        self.check()
        return emitters.asyncpg_pool_kwargs(self, rng=rng)

    def psycopg_pool_kwargs(self, *, asynchronous: bool = True) -> dict[str, Any]:
        """Keyword arguments for ``psycopg_pool.AsyncConnectionPool`` (or ``ConnectionPool``).

        Pass ``open=False`` yourself and ``await pool.open(wait=True)`` at start-up.

        Args:
            asynchronous: ``True`` for ``AsyncConnectionPool``, ``False`` for
                ``ConnectionPool``; decides which ``check`` callback is used for pre-ping.
        """
        self.check()
        return emitters.psycopg_pool_kwargs(self, asynchronous=asynchronous)
