"""One definition of the deployed environments, used by every layer's rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hardening import BodyLimitConfig, ErrorGuardConfig, HardeningSettings
from hardening._environments import DEPLOYED_ENVIRONMENTS, ENVIRONMENTS, is_deployed
from hardening.checks import run_checks

SRC = Path(__file__).resolve().parents[1] / "src" / "hardening"
# the ways "is this deployed" used to be spelled; is_deployed() replaces them all
_SPELLINGS = re.compile(
    r"""in \(["']development["'], ["']test["']\)|[!=]= ["']production["']|in DEPLOYED_ENVIRONMENTS"""
)


def test_staging_and_production_are_deployed_and_unknown_names_count_as_deployed() -> None:
    assert [name for name in ENVIRONMENTS if is_deployed(name)] == ["staging", "production"]
    assert {"staging", "production"} == DEPLOYED_ENVIRONMENTS
    assert is_deployed("moon-base")


def test_no_module_spells_the_test_its_own_way() -> None:
    found = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "_environments.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if _SPELLINGS.search(line)
    ]
    assert found == []


@pytest.mark.parametrize("rule", ["HARDENING-BODY-001", "HARDENING-ERRORS-001"])
def test_rules_that_applied_to_production_only_apply_to_staging_too(rule: str) -> None:
    def found(environment: str) -> set[str]:
        settings = HardeningSettings(
            environment=environment,
            body_limit=BodyLimitConfig(enabled=False),
            errors=ErrorGuardConfig(enabled=False),
        )
        return {finding.id for finding in run_checks(settings)}

    assert rule in found("staging")
    assert rule in found("production")
    assert rule not in found("development")
