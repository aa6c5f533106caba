"""Production rules of the logging capability (``HARDENING-LOG-001`` to ``-005``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from hardening._environments import is_deployed
from hardening.findings import Finding, Rule

if TYPE_CHECKING:
    from hardening.findings import RuleInput

__all__ = ("CHECKS",)


def check_logging(settings: RuleInput) -> Iterable[Finding]:
    """Logs in production: JSON, no local variables, not DEBUG; request IDs and access log on."""
    if not is_deployed(settings.environment):
        return
    config = settings.logging
    if config.enabled and config.renderer_for(settings.environment) == "console":
        yield Finding(
            id="HARDENING-LOG-001",
            severity="warning",
            message="logs are rendered for a terminal, not as JSON lines",
            hint="set HARDENING_LOGGING__FORMAT=json (or auto) so log pipelines can parse every line",
            setting="logging.format",
            env_var="HARDENING_LOGGING__FORMAT",
        )
    if config.enabled and config.show_locals:
        yield Finding(
            id="HARDENING-LOG-002",
            severity="error",
            message="tracebacks in logs include every frame's local variables, which hold secrets",
            hint="set HARDENING_LOGGING__SHOW_LOCALS=false",
            setting="logging.show_locals",
            env_var="HARDENING_LOGGING__SHOW_LOCALS",
        )
    if config.enabled and config.level == "DEBUG":
        yield Finding(
            id="HARDENING-LOG-003",
            severity="warning",
            message="the root log level is DEBUG: verbose, costly, and libraries log payloads at DEBUG",
            hint="set HARDENING_LOGGING__LEVEL=INFO and raise single loggers with HARDENING_LOGGING__LEVELS",
            setting="logging.level",
            env_var="HARDENING_LOGGING__LEVEL",
        )
    if not settings.request_id.enabled:
        yield Finding(
            id="HARDENING-LOG-004",
            severity="warning",
            message="request IDs are off: log lines of one request cannot be correlated",
            hint="set HARDENING_REQUEST_ID__ENABLED=true",
            setting="request_id.enabled",
            env_var="HARDENING_REQUEST_ID__ENABLED",
        )
    if not settings.access_log.enabled:
        yield Finding(
            id="HARDENING-LOG-005",
            severity="info",
            message="the access log is off: no line records status, duration and client per request",
            hint="set HARDENING_ACCESS_LOG__ENABLED=true",
            setting="access_log.enabled",
            env_var="HARDENING_ACCESS_LOG__ENABLED",
        )


CHECKS: tuple[Rule, ...] = (check_logging,)
"""Production rules of the logging capability."""
