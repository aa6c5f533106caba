"""Production rules of the rate-limiting layer (collected by :mod:`hardening.checks`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from hardening.findings import Finding, Rule, finding

if TYPE_CHECKING:
    from hardening.findings import RuleInput

__all__ = ("CHECKS",)


def _workers(configured: int | None) -> int:
    if configured is not None:
        return configured
    try:
        return max(1, int(os.environ.get("WEB_CONCURRENCY", "1") or "1"))
    except ValueError:
        return 1


def memory_storage_with_many_processes(settings: RuleInput) -> Iterator[Finding]:
    """HARDENING-RATELIMIT-001: in-memory counters with several workers or replicas."""
    config = settings.rate_limit
    if not config.enabled or not config.storage_uri.get_secret_value().startswith("async+memory"):
        return
    workers = _workers(config.workers)
    if workers > 1 or config.replicas > 1:
        yield finding(
            "HARDENING-RATELIMIT-001",
            "warning",
            "rate_limit.storage_uri",
            (
                f"Rate-limit counters are kept in memory, but {workers} worker(s) x "
                f"{config.replicas} replica(s) each keep their own: every limit is effectively "
                f"multiplied by {workers * config.replicas}."
            ),
            "Point the limiter at Redis, for example async+redis://redis:6379/0.",
        )


def rate_limiting_disabled(settings: RuleInput) -> Iterator[Finding]:
    """HARDENING-RATELIMIT-002: rate limiting is off."""
    if not settings.rate_limit.enabled:
        yield finding(
            "HARDENING-RATELIMIT-002",
            "warning",
            "rate_limit.enabled",
            "Rate limiting is disabled: one client can use all of the service's capacity.",
            "Enable it (the default) and set limits that fit the service.",
        )


def no_limits(settings: RuleInput) -> Iterator[Finding]:
    """HARDENING-RATELIMIT-003: enabled, but no limit applies to anything."""
    config = settings.rate_limit
    if config.enabled and not config.default_limits.strip() and not any(not r.exempt for r in config.rules):
        yield finding(
            "HARDENING-RATELIMIT-003",
            "warning",
            "rate_limit.default_limits",
            "Rate limiting is enabled but no default limits and no rules are set.",
            "Set default limits, for example '50/second;1000/minute'.",
        )


def shadow_mode(settings: RuleInput) -> Iterator[Finding]:
    """HARDENING-RATELIMIT-004: shadow mode never rejects anything."""
    config = settings.rate_limit
    if config.enabled and config.shadow:
        yield finding(
            "HARDENING-RATELIMIT-004",
            "warning",
            "rate_limit.shadow",
            "Rate limiting runs in shadow mode: limits are computed but never enforced.",
            "Turn shadow mode off once the limits are tuned.",
        )


CHECKS: tuple[Rule, ...] = (
    memory_storage_with_many_processes,
    rate_limiting_disabled,
    no_limits,
    shadow_mode,
)
"""The rate-limiting production rules."""
