"""Production rules with stable IDs, like Django's ``check --deploy``: the rule runner.

A rule is a function of the settings that yields :class:`~hardening.findings.Finding`
objects (:mod:`hardening.findings`). Each entry of the layer registry
(:mod:`hardening._registry`) lists its rules, and the settings aggregate lists its own
(debug mode, weak secrets) in its ``rules`` class attribute; :func:`run_checks` runs them
all. Rules can be silenced by ID; a fail level decides what stops start-up.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hardening import _registry
from hardening.findings import SEVERITY_ORDER, Finding, Rule, RuleInput, Severity

__all__ = ("SEVERITY_ORDER", "Finding", "Rule", "RuleInput", "Severity", "collect_checks", "run_checks")


def collect_checks(settings: Any = None) -> list[Rule]:
    """Return every rule: those of ``settings``' own class (when given), then the registry's."""
    own: tuple[Rule, ...] = getattr(type(settings), "rules", ()) if settings is not None else ()
    return [*own, *_registry.rules()]


def run_checks(settings: Any, *, silenced: Iterable[str] = ()) -> list[Finding]:
    """Run every rule against ``settings`` and return the findings, most severe first.

    Args:
        settings: The settings to check (a :class:`hardening.HardeningSettings`).
        silenced: Rule IDs to leave out of the result.
    """
    skip = frozenset(silenced)
    findings = [f for rule in collect_checks(settings) for f in rule(settings) if f.id not in skip]
    findings.sort(key=lambda f: (-SEVERITY_ORDER[f.severity], f.id, f.setting))
    return findings
