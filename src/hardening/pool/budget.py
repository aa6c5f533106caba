"""Connection-budget arithmetic: what the fleet may open, and what the database accepts.

The formulas (see the docs page ``capabilities/database-pools.md``)::

    usable      = max_connections - superuser_reserved - reserved - other_clients - headroom
    per_process = pools_per_process x (pool_size + max_overflow)
    fleet_peak  = (replicas + surge) x workers x per_process          must be <= usable
    cap         = floor(usable / ((replicas + surge) x workers x pools_per_process))

Pure functions and frozen dataclasses only: no driver, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from hardening.errors import ConfigurationError

__all__ = ("PoolBudget", "PoolRecommendation", "recommend_pool_size")


@dataclass(frozen=True, slots=True)
class PoolBudget:
    """The fleet's peak connection count set against what the database accepts.

    Attributes:
        replicas: Replicas at the most (the autoscaler's maximum).
        surge: Extra replicas alive during a rolling update.
        workers: Worker processes per replica.
        pools_per_process: Pools (engines) each process opens.
        pool_size: Steady connections per pool.
        max_overflow: Extra connections per pool under load.
        max_connections: The database's ``max_connections``.
        superuser_reserved: Slots only superusers may use
            (``superuser_reserved_connections``).
        reserved: Slots for roles with ``pg_use_reserved_connections`` (PostgreSQL 16+
            ``reserved_connections``).
        other_clients: Connections other clients hold (migrations, cron, admin tools).
        headroom: Slots kept free on purpose.
    """

    replicas: int
    surge: int
    workers: int
    pools_per_process: int
    pool_size: int
    max_overflow: int
    max_connections: int
    superuser_reserved: int
    reserved: int
    other_clients: int
    headroom: int = 0

    @property
    def per_process(self) -> int:
        """The most connections one worker process can hold."""
        return self.pools_per_process * (self.pool_size + self.max_overflow)

    @property
    def processes(self) -> int:
        """Worker processes alive at the peak (surge included)."""
        return (self.replicas + self.surge) * self.workers

    @property
    def fleet_peak(self) -> int:
        """The most connections the whole fleet can hold at once."""
        return self.processes * self.per_process

    @property
    def usable(self) -> int:
        """The slots the application's role may use."""
        return self.max_connections - self.superuser_reserved - self.reserved - self.other_clients - self.headroom

    @property
    def fits(self) -> bool:
        """Whether the fleet's peak fits in the usable slots."""
        return self.usable > 0 and self.fleet_peak <= self.usable

    @property
    def per_process_cap(self) -> int:
        """The most connections per process that still fit (0 when nothing fits)."""
        return max(self.usable, 0) // (self.processes * self.pools_per_process) * self.pools_per_process

    @property
    def utilization(self) -> float:
        """``fleet_peak / usable`` (infinite when nothing is usable)."""
        return self.fleet_peak / self.usable if self.usable > 0 else math.inf

    def usable_arithmetic(self) -> str:
        """Explain the usable slots, for example ``87 usable (100 max - 3 superuser - 10 other)``."""
        parts = [f"{self.max_connections} max", f"{self.superuser_reserved} superuser"]
        if self.reserved:
            parts.append(f"{self.reserved} reserved")
        if self.other_clients:
            parts.append(f"{self.other_clients} other")
        if self.headroom:
            parts.append(f"{self.headroom} headroom")
        return f"{self.usable} usable ({' - '.join(parts)})"

    def peak_arithmetic(self) -> str:
        """Explain the fleet peak, for example ``10 replicas x 4 workers x (10 + 5) = 600``."""
        replicas = f"{self.replicas} replicas" if self.replicas != 1 else "1 replica"
        if self.surge:
            replicas = f"({replicas} + {self.surge} surge)"
        workers = f"{self.workers} workers" if self.workers != 1 else "1 worker"
        factors = [replicas, workers]
        if self.pools_per_process != 1:
            factors.append(f"{self.pools_per_process} pools")
        factors.append(f"({self.pool_size} + {self.max_overflow})")
        return f"{' x '.join(factors)} = {self.fleet_peak}"

    def arithmetic(self) -> str:
        """The whole comparison, for example
        ``10 replicas x 4 workers x (10 + 5) = 600 > 87 usable (100 max - 3 superuser - 10 other)``.
        """  # noqa: D205
        sign = "<=" if self.fits else ">"
        return f"{self.peak_arithmetic()} {sign} {self.usable_arithmetic()}"


@dataclass(frozen=True, slots=True)
class PoolRecommendation:
    """A recommended pool size and overflow, with the reasoning behind it.

    Attributes:
        pool_size: Recommended steady connections per process.
        max_overflow: Recommended extra connections per process under load.
        target_active: HikariCP's database-wide target, ``cores * 2 + spindles``.
        throughput_per_process: ``ceil(target_active / (replicas * workers))``.
        budget_per_process: The most per process that fits the budget (surge included).
        limited_by: ``"throughput"`` when HikariCP's rule is the smaller number,
            ``"budget"`` when the connection budget is.
        explanation: The reasoning, in words and numbers.
    """

    pool_size: int
    max_overflow: int
    target_active: int
    throughput_per_process: int
    budget_per_process: int
    limited_by: Literal["throughput", "budget"]
    explanation: str

    def __str__(self) -> str:
        return self.explanation


def recommend_pool_size(
    *,
    cores: int,
    workers: int,
    replicas: int,
    budget: int,
    surge: int = 0,
    spindles: int = 0,
    pools_per_process: int = 1,
) -> PoolRecommendation:
    """Recommend ``pool_size`` and ``max_overflow`` per process.

    Two numbers bound a pool. HikariCP's rule of thumb (from the PostgreSQL project) sizes
    the *database-wide* active connections for throughput: ``cores * 2 + spindles``, where
    ``cores`` are the database server's physical cores and ``spindles`` is 0 when the
    working set is cached. More active connections than that add contention, not
    throughput. The budget bounds what the database accepts: ``budget`` usable slots
    shared by ``(replicas + surge) * workers`` processes. The smaller number wins.

    The steady ``pool_size`` is the smaller of the two. Overflow (bursts) is granted only
    when throughput was the limit, up to half the pool size and never past the budget.

    Args:
        cores: Physical cores of the database server (no hyper-threads).
        workers: Worker processes per replica (``WEB_CONCURRENCY``).
        replicas: Replicas at the most (the autoscaler's maximum).
        budget: Usable connection slots (see :attr:`PoolBudget.usable`).
        surge: Extra replicas during a rolling update.
        spindles: Effective spindle count: 0 for a cached working set or SSDs.
        pools_per_process: Pools (engines) each process opens; the result is per pool.

    Raises:
        ConfigurationError: When an input is out of range, or the budget cannot give
            every process even one connection.
    """
    for name, value, low in (
        ("cores", cores, 1),
        ("workers", workers, 1),
        ("replicas", replicas, 1),
        ("surge", surge, 0),
        ("spindles", spindles, 0),
        ("pools_per_process", pools_per_process, 1),
    ):
        if value < low:
            msg = f"recommend_pool_size({name}={value!r}): expected an integer >= {low}."
            raise ConfigurationError(msg)
    processes = (replicas + surge) * workers
    target = cores * 2 + spindles
    throughput = max(1, math.ceil(target / (replicas * workers * pools_per_process)))
    cap = max(budget, 0) // (processes * pools_per_process)
    if cap < 1:
        msg = (
            f"No pool size fits: {budget} usable connections shared by {processes} processes "
            f"({replicas} replicas + {surge} surge) x {workers} workers"
            f"{f' x {pools_per_process} pools' if pools_per_process != 1 else ''} leave less than one "
            "connection each. Run fewer workers or replicas, raise max_connections, or put PgBouncer "
            "in front of the database."
        )
        raise ConfigurationError(msg)
    head = (
        f"HikariCP's rule gives {cores} cores x 2 + {spindles} spindles = {target} active connections "
        f"database-wide, {throughput} per pool over {replicas} replicas x {workers} workers"
        f"{f' x {pools_per_process} pools' if pools_per_process != 1 else ''}; "
        f"the budget allows {cap} per pool ({budget} usable / {processes * pools_per_process} "
        f"{'pools' if pools_per_process != 1 else 'processes'} at peak, surge included)."
    )
    if throughput <= cap:
        pool_size = throughput
        max_overflow = min(cap - pool_size, math.ceil(pool_size / 2))
        limited_by: Literal["throughput", "budget"] = "throughput"
        tail = (
            f" Throughput is the limit: pool_size={pool_size}, max_overflow={max_overflow} "
            "(bursts up to half the pool again, within the budget). A bigger pool would add contention, "
            "not throughput."
        )
    else:
        pool_size, max_overflow, limited_by = cap, 0, "budget"
        tail = (
            f" The budget is the limit: pool_size={pool_size}, max_overflow=0. The database could "
            "use more active connections; raise max_connections or add PgBouncer to get them."
        )
    return PoolRecommendation(
        pool_size=pool_size,
        max_overflow=max_overflow,
        target_active=target,
        throughput_per_process=throughput,
        budget_per_process=cap,
        limited_by=limited_by,
        explanation=head + tail,
    )
