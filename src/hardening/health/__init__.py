"""Health endpoints for Kubernetes probes and monitoring, in ``application/health+json``.

* :class:`HealthConfig` (``settings.health``, env ``HARDENING_HEALTH__*``): paths,
  deadline, cache times, details policy and token.
* :class:`HealthRegistry`: the checks (runtime objects) and start-up warm-up hooks,
  passed as ``harden(app, settings, health=registry)``.
* :class:`HealthMiddleware`: the pure ASGI layer serving ``/livez``, ``/readyz``,
  ``/startupz`` and ``/health``, and following the lifespan.
* Built-in checks: :class:`SQLAlchemyCheck`, :class:`AsyncpgPoolCheck`,
  :class:`PostgresCheck`, :class:`RedisCheck`, :class:`HTTPCheck`,
  :class:`DiskSpaceCheck`, :class:`EventLoopLagCheck`, :class:`RateLimiterCheck`;
  any other callable is a check too.

Importing this package imports no database or network driver.
"""

from __future__ import annotations

from hardening.health.checks_db import AsyncpgPoolCheck, PostgresCheck, SQLAlchemyCheck
from hardening.health.checks_net import HTTPCheck, RedisCheck
from hardening.health.checks_system import DiskSpaceCheck, EventLoopLagCheck, HasHealth, RateLimiterCheck
from hardening.health.config import DetailsPolicy, HealthConfig
from hardening.health.middleware import HealthMiddleware, process_check
from hardening.health.registry import CheckSpec, Criticality, Group, HealthRegistry
from hardening.health.result import CheckResult, Status
from hardening.health.rules import CHECKS
from hardening.health.runtime import GroupReport, HealthRuntime, ReportedCheck

__all__ = (
    "CHECKS",
    "AsyncpgPoolCheck",
    "CheckResult",
    "CheckSpec",
    "Criticality",
    "DetailsPolicy",
    "DiskSpaceCheck",
    "EventLoopLagCheck",
    "Group",
    "GroupReport",
    "HTTPCheck",
    "HasHealth",
    "HealthConfig",
    "HealthMiddleware",
    "HealthRegistry",
    "HealthRuntime",
    "PostgresCheck",
    "RateLimiterCheck",
    "RedisCheck",
    "ReportedCheck",
    "SQLAlchemyCheck",
    "Status",
    "process_check",
)
