"""Production rules of error monitoring (``HARDENING-MON-001`` to ``-004``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from hardening._environments import is_deployed
from hardening.findings import Finding, Rule, finding

if TYPE_CHECKING:
    from hardening.findings import RuleInput

__all__ = ("CHECKS",)


def check_monitoring(settings: RuleInput) -> Iterable[Finding]:
    """Errors are reported somewhere, without personal data or local variables."""
    if not is_deployed(settings.environment):
        return
    sentry = settings.sentry
    if not sentry.enabled or sentry.dsn is None:
        yield finding(
            "HARDENING-MON-001",
            "warning",
            "sentry.dsn",
            "no error monitoring: unhandled exceptions are only in the logs, nobody is alerted",
            "set HARDENING_SENTRY__DSN and call hardening.monitoring.init_sentry(settings) at start-up",
        )
        return
    if sentry.send_default_pii:
        yield finding(
            "HARDENING-MON-002",
            "error",
            "sentry.send_default_pii",
            "Sentry sends personal data (cookies, users, client addresses)",
            "set HARDENING_SENTRY__SEND_DEFAULT_PII=false",
        )
    if sentry.include_local_variables:
        yield finding(
            "HARDENING-MON-003",
            "warning",
            "sentry.include_local_variables",
            "Sentry sends every frame's local variables, which hold secrets and personal data",
            "set HARDENING_SENTRY__INCLUDE_LOCAL_VARIABLES=false",
        )
    if sentry.max_request_body_size in ("medium", "always"):
        yield finding(
            "HARDENING-MON-004",
            "warning",
            "sentry.max_request_body_size",
            "Sentry sends request bodies, which carry passwords and personal data",
            "set HARDENING_SENTRY__MAX_REQUEST_BODY_SIZE=never (or small)",
        )


CHECKS: tuple[Rule, ...] = (check_monitoring,)
"""Production rules of error monitoring."""
