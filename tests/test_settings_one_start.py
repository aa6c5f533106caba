"""One start, every problem: invalid values and the production rules judged on what loaded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hardening import (
    AppSettings,
    ConfigurationError,
    _registry,
    check_settings,
    explain,
    load_settings,
    setting,
)
from hardening.findings import Finding
from hardening.settings.report import SettingsReport

PROD = {"HARDENING_ENVIRONMENT": "production"}


def _ids(report: SettingsReport) -> set[str]:
    return {p.rule_id for p in report.problems if p.kind == "rule"}


def _not_evaluated(report: SettingsReport) -> list[tuple[str, str]]:
    return [(p.setting, p.message) for p in report.problems if "not evaluated" in p.message]


def test_an_invalid_value_does_not_hide_the_production_rules() -> None:
    """The issue's case: a bad max age, and no allowed hosts, reported together."""
    report = check_settings(environ={**PROD, "HARDENING_CORS__MAX_AGE": "-5"})
    assert [p.setting for p in report.problems if p.kind == "invalid"] == ["cors.max_age"]
    assert "HARDENING-HOST-001" in _ids(report)  # judged on what did load
    assert report.failed_to_load


def test_a_rule_that_reads_a_value_that_failed_is_listed_as_not_evaluated() -> None:
    report = check_settings(environ={**PROD, "HARDENING_HOSTS__ALLOWED_HOSTS": "exa mple.com"})
    assert [p.setting for p in report.problems if p.kind == "invalid"] == ["hosts.allowed_hosts"]
    # the hosts rule would judge the default (no hosts) instead of the bad value: not run
    assert not {"HARDENING-HOST-001", "HARDENING-HOST-002"} & _ids(report)
    [(setting, message)] = _not_evaluated(report)
    assert setting == "hosts.allowed_hosts"
    assert "check_hosts of the hosts layer" in message
    assert "not evaluated" in report.text()
    # rules that read nothing that failed still ran
    assert _ids(report) == _ids(check_settings(environ={**PROD, "HARDENING_HOSTS__ALLOWED_HOSTS": "a.example"}))


def test_load_settings_raises_with_everything_in_one_report() -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(environ={**PROD, "HARDENING_CORS__MAX_AGE": "-5"})
    report = info.value.report
    assert isinstance(report, SettingsReport)
    assert {"invalid", "rule"} <= {p.kind for p in report.problems}
    assert "setting cors.max_age (HARDENING_CORS__MAX_AGE)" in str(info.value)
    assert "HARDENING-HOST-001" in str(info.value)


class Service(AppSettings):
    """An app with its own settings next to hardening's."""

    workers: int = 1
    secret_key: str = setting("dev-only", required_in=("production",))


def test_app_settings_get_the_layer_rules_when_their_own_field_is_invalid() -> None:
    report = check_settings(Service, environ={**PROD, "WORKERS": "many", "SECRET_KEY": "x" * 8})
    assert [p.setting for p in report.problems if p.kind == "invalid"] == ["workers"]
    assert "HARDENING-HOST-001" in _ids(report)


def test_nothing_is_reported_twice_and_development_runs_no_rule() -> None:
    report = check_settings(environ={"HARDENING_ENVIRONMENT": "development", "HARDENING_CORS__MAX_AGE": "-5"})
    assert [p.kind for p in report.problems] == ["invalid"]
    assert _not_evaluated(report) == []


class Described(AppSettings):
    """A field whose description shows the URL form with a placeholder password."""

    database_url: str = setting(
        "sqlite:///dev.db", required_in=("production",), description="postgresql://user:password@host:5432/db"
    )


def test_placeholders_in_descriptions_are_not_redacted() -> None:
    report = check_settings(Described, environ=PROD)
    assert [p.setting for p in report.problems if p.kind == "missing"] == ["database_url"]
    for rendered in (report.text(), report.to_json()):
        assert "postgresql://user:password@host:5432/db" in rendered
        assert "[REDACTED]" not in rendered


def test_values_are_still_redacted_next_to_a_description() -> None:
    canary = "postgresql://app:pw-canary-73@db:5432/app"
    env = {**PROD, "DATABASE_URL": canary, "HARDENING_CORS__MAX_AGE": "-5"}
    report = check_settings(Described, environ=env)
    explained = explain(Described, environ=env)
    for rendered in (report.text(), report.to_json(), explained.text(), explained.to_json()):
        assert "pw-canary-73" not in rendered
    assert "postgresql://user:password@host:5432/db" in explained.to_json()


def test_the_aiom_database_help_shows_its_placeholder() -> None:
    """The issue's case: the AIOM settings help showed postgresql://[REDACTED]@host:5432/db."""
    from examples.aiom.settings import AIOMSettings

    env = {"HARDENING_ENVIRONMENT": "production"}
    report = check_settings(AIOMSettings, environ=env)
    explained = explain(AIOMSettings, environ=env)
    for rendered in (explained.to_json(), report.text()):
        assert "postgresql://user:password@host:5432/db" in rendered
        assert "postgresql://[REDACTED]" not in rendered


def test_only_the_rules_that_read_the_failed_value_are_not_evaluated() -> None:
    """A rule reading other header settings through the config's methods still runs."""
    report = check_settings(environ={**PROD, "HARDENING_HEADERS__HSTS__MAX_AGE": "-1"})
    notes = _not_evaluated(report)
    assert notes
    assert {setting for setting, _ in notes} == {"headers.hsts"}
    assert all("hsts" in message for _, message in notes)


def test_values_given_in_code_that_failed_are_left_out_of_the_second_build() -> None:
    report = check_settings(environ=PROD, cors={"max_age": -5, "allow_origins": ["https://app.example.com"]})
    assert [p.setting for p in report.problems if p.kind == "invalid"] == ["cors.max_age"]
    assert "HARDENING-HOST-001" in _ids(report)


def test_a_rule_that_needs_more_than_reading_fields_is_not_evaluated(monkeypatch: pytest.MonkeyPatch) -> None:
    def introspecting_rule(settings: Any) -> Iterator[Finding]:
        if vars(settings):  # the recording view has no __dict__: this rule cannot be judged partly
            yield Finding(id="TOY-002", severity="warning", message="never judged on a partial load")

    registered = _registry.rules()
    monkeypatch.setattr(_registry, "rules", lambda: [*registered, introspecting_rule])
    report = check_settings(environ={**PROD, "HARDENING_CORS__MAX_AGE": "-5"})
    assert "TOY-002" not in _ids(report)
    assert [setting for setting, message in _not_evaluated(report) if "introspecting_rule" in message] == [
        "cors.max_age"
    ]
    assert "TOY-002" in _ids(check_settings(environ=PROD))  # a full load runs it as before
