"""The production-rule runner: collection from the registry, silencing, ordering."""

from __future__ import annotations

from hardening import HardeningSettings, _registry
from hardening.checks import Finding, collect_checks, run_checks
from hardening.settings.rules import CHECKS, check_debug


def test_settings_rules_and_registry_rules_are_collected() -> None:
    checks = collect_checks(HardeningSettings())
    assert all(check in checks for check in CHECKS)
    assert all(rule in checks for entry in _registry.all_entries() for rule in entry.rules)
    assert HardeningSettings.rules == CHECKS


def test_run_checks_sorts_most_severe_first_and_silences() -> None:
    settings = HardeningSettings(environment="production")
    findings = run_checks(settings)
    ranks = [{"error": 0, "warning": 1, "info": 2}[f.severity] for f in findings]
    assert ranks == sorted(ranks)
    assert all(isinstance(f, Finding) and f.id for f in findings)
    if findings:
        first = findings[0].id
        assert first not in {f.id for f in run_checks(settings, silenced=[first])}


def test_a_rule_is_a_plain_function_of_the_settings() -> None:
    assert list(check_debug(HardeningSettings())) == []
