"""Production rules of error monitoring (``HARDENING-MON-001`` to ``-004``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from hardening._environments import is_deployed
from hardening.findings import Finding, Rule

if TYPE_CHECKING:
    from hardening.findings import RuleInput

__all__ = ("CHECKS",)


def check_monitoring(settings: RuleInput) -> Iterable[Finding]:
    """Errors are reported somewhere, without personal data or local variables."""
    if not is_deployed(settings.environment):
        return
    sentry = settings.sentry
    if not sentry.enabled or sentry.dsn is None:
        yield Finding(
            id="HARDENING-MON-001",
            severity="warning",
            message="no error monitoring: unhandled exceptions are only in the logs, nobody is alerted",
            hint="set HARDENING_SENTRY__DSN and call hardening.monitoring.init_sentry(settings) at start-up",
            setting="sentry.dsn",
            env_var="HARDENING_SENTRY__DSN",
        )
        return
    if sentry.send_default_pii:
        yield Finding(
            id="HARDENING-MON-002",
            severity="error",
            message="Sentry sends personal data (cookies, users, client addresses)",
            hint="set HARDENING_SENTRY__SEND_DEFAULT_PII=false",
            setting="sentry.send_default_pii",
            env_var="HARDENING_SENTRY__SEND_DEFAULT_PII",
        )
    if sentry.include_local_variables:
        yield Finding(
            id="HARDENING-MON-003",
            severity="warning",
            message="Sentry sends every frame's local variables, which hold secrets and personal data",
            hint="set HARDENING_SENTRY__INCLUDE_LOCAL_VARIABLES=false",
            setting="sentry.include_local_variables",
            env_var="HARDENING_SENTRY__INCLUDE_LOCAL_VARIABLES",
        )
    if sentry.max_request_body_size in ("medium", "always"):
        yield Finding(
            id="HARDENING-MON-004",
            severity="warning",
            message="Sentry sends request bodies, which carry passwords and personal data",
            hint="set HARDENING_SENTRY__MAX_REQUEST_BODY_SIZE=never (or small)",
            setting="sentry.max_request_body_size",
            env_var="HARDENING_SENTRY__MAX_REQUEST_BODY_SIZE",
        )


CHECKS: tuple[Rule, ...] = (check_monitoring,)
"""Production rules of error monitoring."""
