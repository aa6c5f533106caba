"""Production rules for the pool settings (``HARDENING-POOL-0xx``).

Hard failures (the budget, the timeout ladder, PgBouncer with a statement cache) stop
start-up in :meth:`PoolConfig.check`. These rules report values that are valid but
suspicious. They run only when ``pool.enabled`` is on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from hardening.findings import Finding, Rule, Severity, finding
from hardening.pool.config import env_var

if TYPE_CHECKING:
    from hardening.findings import RuleInput
    from hardening.pool.config import PoolConfig

__all__ = ("CHECKS", "UTILIZATION_WARNING")

UTILIZATION_WARNING = 0.8
"""Budget utilisation above which HARDENING-POOL-004 warns."""

MIN_ACQUIRE_TIMEOUT = 0.25
"""HikariCP's floor for the connection timeout, in seconds."""


def _finding(rule: str, severity: Severity, field: str, message: str, hint: str) -> Finding:
    return finding(f"HARDENING-POOL-{rule}", severity, f"pool.{field}", message, hint)


def _when(
    rule: str, severity: Severity, field: str, applies: Callable[[PoolConfig], bool], message: str, hint: str
) -> Rule:
    """Build a rule that fires when ``applies(settings.pool)`` holds for an enabled pool."""

    def check(settings: RuleInput) -> Iterator[Finding]:
        if settings.pool.enabled and applies(settings.pool):
            yield _finding(rule, severity, field, message, hint)

    check.__name__ = check.__qualname__ = f"pool_rule_{rule}"
    check.__doc__ = f"HARDENING-POOL-{rule}: {message}"
    return check


pre_ping_off = _when(
    "001",
    "warning",
    "pre_ping",
    lambda pool: not pool.pre_ping,
    "Connections are not tested before use: after a database restart or failover, requests fail "
    "on dead connections until the pool has cycled them.",
    f"Set {env_var('pre_ping')}=true.",
)
recycle_off = _when(
    "002",
    "warning",
    "recycle",
    lambda pool: pool.recycle is None,
    "Connections live forever: after a DNS failover they keep talking to the old primary, and "
    "load balancers or NAT may cut them silently.",
    f"Set {env_var('recycle')} (1800 s is a good start; below every idle timeout).",
)
no_statement_timeout = _when(
    "005",
    "warning",
    "statement_timeout",
    lambda pool: pool.statement_timeout is None,
    "No statement_timeout: a runaway query holds its connection (and its locks) long after the request was abandoned.",
    f"Set {env_var('statement_timeout')} below the request timeout.",
)
no_idle_in_transaction_timeout = _when(
    "006",
    "warning",
    "idle_in_transaction_timeout",
    lambda pool: pool.idle_in_transaction_timeout is None,
    "No idle_in_transaction_session_timeout: a session that opened a transaction and stalled "
    "keeps its locks and blocks vacuum indefinitely.",
    f"Set {env_var('idle_in_transaction_timeout')} (60 s is a good start).",
)
no_application_name = _when(
    "009",
    "info",
    "application_name",
    lambda pool: pool.application_name is None,
    "No application_name: this service's connections are anonymous in pg_stat_activity.",
    f"Set {env_var('application_name')} to the service's name.",
)


def acquire_timeout_tiny(settings: RuleInput) -> Iterator[Finding]:
    """HARDENING-POOL-003: an acquire timeout below 250 ms fails under normal jitter."""
    pool = settings.pool
    if pool.enabled and pool.acquire_timeout < MIN_ACQUIRE_TIMEOUT:
        yield _finding(
            "003",
            "warning",
            "acquire_timeout",
            f"The acquire timeout is {pool.acquire_timeout:g} s, below HikariCP's 250 ms floor: "
            "ordinary scheduling jitter will fail requests.",
            f"Raise {env_var('acquire_timeout')} to at least 0.25.",
        )


def budget_nearly_full(settings: RuleInput) -> Iterator[Finding]:
    """HARDENING-POOL-004: the fleet's peak uses most of the usable connections."""
    pool = settings.pool
    if not pool.enabled:
        return
    budget = pool.budget()
    if budget.fits and budget.utilization > UTILIZATION_WARNING:
        yield _finding(
            "004",
            "warning",
            "pool_size",
            f"The pools fit, barely: {budget.arithmetic()} "
            f"({budget.utilization:.0%} of the usable connections). A manual psql session, an "
            "extra replica or a migration can exhaust the database.",
            f"Lower {env_var('pool_size')} / {env_var('max_overflow')}, or raise max_connections.",
        )


def deployment_undeclared(settings: RuleInput) -> Iterator[Finding]:
    """HARDENING-POOL-007: the budget was checked against assumed, not declared, facts."""
    pool = settings.pool
    if not pool.enabled:
        return
    for field, assumed in (("replicas", "1 replica"), ("max_connections", "PostgreSQL's default of 100")):
        if field not in pool.model_fields_set:
            yield _finding(
                "007",
                "warning",
                field,
                f"pool.{field} is not set, so the connection budget assumes {assumed}.",
                f"Set {env_var(field)} to the real number (or run hardening.verify_budget at start-up).",
            )


def pgbouncer_startup_parameters(settings: RuleInput) -> Iterator[Finding]:
    """HARDENING-POOL-008: behind PgBouncer the server-side timeouts are not sent."""
    pool = settings.pool
    if not (pool.enabled and pool.pgbouncer_transaction_mode):
        return
    for field, name in (
        ("statement_timeout", "statement_timeout"),
        ("idle_in_transaction_timeout", "idle_in_transaction_session_timeout"),
    ):
        if getattr(pool, field) is not None:
            yield _finding(
                "008",
                "info",
                field,
                f"PgBouncer refuses startup parameters other than application_name, so {name} is "
                "not sent with each connection in transaction mode.",
                f"Set it on the role or database: ALTER ROLE app SET {name} = '...'.",
            )


CHECKS: tuple[Rule, ...] = (
    pre_ping_off,
    recycle_off,
    acquire_timeout_tiny,
    budget_nearly_full,
    no_statement_timeout,
    no_idle_in_transaction_timeout,
    deployment_undeclared,
    pgbouncer_startup_parameters,
    no_application_name,
)
"""The pool's production rules, collected by :mod:`hardening.checks`."""
