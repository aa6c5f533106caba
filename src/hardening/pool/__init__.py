"""Database pool settings validated against the fleet's real connection budget.

:class:`PoolConfig` describes the pool each worker process opens and the deployment it
runs in; :meth:`PoolConfig.check` refuses a fleet whose peak does not fit the database,
with the arithmetic in the message. The emitters turn it into keyword arguments for
SQLAlchemy, asyncpg and psycopg_pool; :func:`verify_budget` checks it against a live
server; :func:`pool_stats` reports saturation for the health checks. No driver is
imported until an emitter or :func:`verify_budget` needs one.
"""

from __future__ import annotations

from hardening.pool.budget import PoolBudget, PoolRecommendation, recommend_pool_size
from hardening.pool.config import PoolConfig, workers_from_environment
from hardening.pool.live import LiveBudget, verify_budget
from hardening.pool.rules import CHECKS
from hardening.pool.stats import PoolStats, pool_stats

__all__ = (
    "CHECKS",
    "LiveBudget",
    "PoolBudget",
    "PoolConfig",
    "PoolRecommendation",
    "PoolStats",
    "pool_stats",
    "recommend_pool_size",
    "verify_budget",
    "workers_from_environment",
)
