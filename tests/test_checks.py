"""The production-rule registry: collection, silencing, ordering."""

from __future__ import annotations

from hardening import HardeningSettings
from hardening.checks import RULE_MODULES, Finding, collect_checks, run_checks
from hardening.settings.rules import CHECKS, check_debug


def test_settings_rules_are_registered() -> None:
    assert "hardening.settings.rules" in RULE_MODULES
    checks = collect_checks()
    assert all(check in checks for check in CHECKS)


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
