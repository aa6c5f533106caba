"""Production rules with stable IDs, like Django's ``check --deploy``.

A rule is a function that looks at the settings and yields :class:`Finding` objects.
Each capability module lists its rules in a module-level ``CHECKS`` tuple; this module
collects them from :data:`RULE_MODULES` (lazily, at check time) and runs them.
Rules can be silenced by ID; a fail level decides what stops start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from hardening.settings import HardeningSettings

__all__ = ("RULE_MODULES", "SEVERITY_ORDER", "Check", "Finding", "Severity", "collect_checks", "run_checks")

Severity = Literal["info", "warning", "error"]
"""How serious a finding is; ``error`` stops start-up in production by default."""

SEVERITY_ORDER: Final[dict[str, int]] = {"info": 0, "warning": 1, "error": 2}
"""Severities ranked, for comparing with a fail level."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found by a production rule. Never holds a secret value.

    Attributes:
        id: The stable rule ID, for example ``"HARDENING-CORS-001"``.
        severity: ``info``, ``warning`` or ``error``.
        message: What is wrong.
        hint: How to fix it.
        setting: The dotted settings path, for example ``"cors.allow_origins"``.
        env_var: The environment variable that sets it.
    """

    id: str
    severity: Severity
    message: str
    hint: str = ""
    setting: str = ""
    env_var: str = ""


Check = Callable[["HardeningSettings"], Iterable[Finding]]
"""A production rule: takes the settings and yields findings."""

RULE_MODULES: Final = (
    "hardening.settings.rules",
    "hardening.headers",
    "hardening.cors",
    "hardening.hosts",
    "hardening.httpsredirect",
    "hardening.csrf",
    "hardening.ratelimit",
    "hardening.pool",
    "hardening.logs",
    "hardening.monitoring",
    "hardening.errorguard",
    "hardening.bodylimit",
    "hardening.health",
)
"""Modules whose ``CHECKS`` tuple contributes rules (missing modules are skipped)."""


def collect_checks() -> list[Check]:
    """Return every registered rule, in :data:`RULE_MODULES` order."""
    checks: list[Check] = []
    for name in RULE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        checks.extend(getattr(module, "CHECKS", ()))
    return checks


def run_checks(settings: HardeningSettings, *, silenced: Iterable[str] = ()) -> list[Finding]:
    """Run every rule against ``settings`` and return the findings, most severe first.

    Args:
        settings: The settings to check.
        silenced: Rule IDs to leave out of the result.
    """
    skip = frozenset(silenced)
    findings = [finding for check in collect_checks() for finding in check(settings) if finding.id not in skip]
    findings.sort(key=lambda f: (-SEVERITY_ORDER[f.severity], f.id, f.setting))
    return findings
