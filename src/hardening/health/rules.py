"""Production rules of the health endpoints (collected by :mod:`hardening.checks`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from hardening._environments import is_deployed
from hardening.findings import Finding, finding

if TYPE_CHECKING:
    from hardening.findings import Rule, RuleInput

__all__ = ("CHECKS",)

_KUBELET_TIMEOUT: Final = 1.0
_MIN_TOKEN: Final = 16


def health_enabled(settings: RuleInput) -> Iterable[Finding]:
    """HARDENING-HEALTH-001: production without health endpoints."""
    if is_deployed(settings.environment) and not settings.health.enabled:
        yield finding(
            "HARDENING-HEALTH-001",
            "warning",
            "health.enabled",
            "health endpoints are disabled: orchestrators cannot tell a starting or draining pod",
            "enable them and point livenessProbe at /livez and readinessProbe at /readyz",
        )


def details_public(settings: RuleInput) -> Iterable[Finding]:
    """HARDENING-HEALTH-002: per-check details shown to anonymous callers in production."""
    if is_deployed(settings.environment) and settings.health.enabled and settings.health.details == "always":
        yield finding(
            "HARDENING-HEALTH-002",
            "warning",
            "health.details",
            "health details (dependency names, errors, pool usage) are shown to anyone",
            "set details to 'token' with a long random token, or 'never'",
        )


def deadline_vs_probe(settings: RuleInput) -> Iterable[Finding]:
    """HARDENING-HEALTH-003: deadline not under the kubelet's default 1 s probe timeout."""
    if settings.health.enabled and settings.health.deadline >= _KUBELET_TIMEOUT:
        yield finding(
            "HARDENING-HEALTH-003",
            "info",
            "health.deadline",
            f"health deadline is {settings.health.deadline:g} s; the kubelet's default timeoutSeconds is 1 s",
            "keep the deadline under the probes' timeoutSeconds (0.8 s for the default)",
        )


def token_strength(settings: RuleInput) -> Iterable[Finding]:
    """HARDENING-HEALTH-004: the details token is short enough to guess."""
    token = settings.health.token
    if token is not None and 0 < len(token.get_secret_value()) < _MIN_TOKEN:
        yield finding(
            "HARDENING-HEALTH-004",
            "warning",
            "health.token",
            f"the health details token is shorter than {_MIN_TOKEN} characters",
            "use a random value such as `python -c 'import secrets; print(secrets.token_urlsafe(32))'`",
        )


CHECKS: Final[tuple[Rule, ...]] = (health_enabled, details_public, deadline_vs_probe, token_strength)
"""The health endpoints' production rules."""
