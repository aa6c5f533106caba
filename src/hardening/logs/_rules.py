"""Production rules of the logging capability (``HARDENING-LOG-001`` to ``-005``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from hardening._environments import is_deployed
from hardening.findings import Finding, Rule, finding

if TYPE_CHECKING:
    from hardening.findings import RuleInput

__all__ = ("CHECKS",)


def check_logging(settings: RuleInput) -> Iterable[Finding]:
    """Logs in production: JSON, no local variables, not DEBUG; request IDs and access log on."""
    if not is_deployed(settings.environment):
        return
    config = settings.logging
    if config.enabled and config.renderer_for(settings.environment) == "console":
        yield finding(
            "HARDENING-LOG-001",
            "warning",
            "logging.format",
            "logs are rendered for a terminal, not as JSON lines",
            "set HARDENING_LOGGING__FORMAT=json (or auto) so log pipelines can parse every line",
        )
    if config.enabled and config.show_locals:
        yield finding(
            "HARDENING-LOG-002",
            "error",
            "logging.show_locals",
            "tracebacks in logs include every frame's local variables, which hold secrets",
            "set HARDENING_LOGGING__SHOW_LOCALS=false",
        )
    if config.enabled and config.level == "DEBUG":
        yield finding(
            "HARDENING-LOG-003",
            "warning",
            "logging.level",
            "the root log level is DEBUG: verbose, costly, and libraries log payloads at DEBUG",
            "set HARDENING_LOGGING__LEVEL=INFO and raise single loggers with HARDENING_LOGGING__LEVELS",
        )
    if not settings.request_id.enabled:
        yield finding(
            "HARDENING-LOG-004",
            "warning",
            "request_id.enabled",
            "request IDs are off: log lines of one request cannot be correlated",
            "set HARDENING_REQUEST_ID__ENABLED=true",
        )
    if not settings.access_log.enabled:
        yield finding(
            "HARDENING-LOG-005",
            "info",
            "access_log.enabled",
            "the access log is off: no line records status, duration and client per request",
            "set HARDENING_ACCESS_LOG__ENABLED=true",
        )


CHECKS: tuple[Rule, ...] = (check_logging,)
"""Production rules of the logging capability."""
