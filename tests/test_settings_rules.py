"""Each HARDENING-SET rule: one test that triggers it, one that silences it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from hardening import AppSettings, ConfigurationError, HardeningSettings, check_settings, load_settings, setting
from hardening.settings.rules import RULES, entropy_bits, is_placeholder

STRONG = "Vq8-L2xZr9_TfW4mNb7YcK1pHs6JdG3e"  # 32 random-looking characters
PROD = {"HARDENING_ENVIRONMENT": "production"}


class App(AppSettings):
    """Fields each rule looks at."""

    debug: bool = False
    """Debug pages."""
    secret_key: SecretStr = SecretStr(STRONG)
    """Signs cookies."""
    webhook_secret: SecretStr | None = None
    """A third-party secret (no strength rules, placeholders only)."""
    api_token: str = ""
    """Declared as a plain string on purpose."""
    api_token_header: str = "x-api-token"
    """Names where the token travels: not a secret."""
    database_url: str = ""
    """A DSN declared as a plain string."""
    signing: SecretStr = setting(SecretStr("built-in-default-key-0123456789abcdef"), signing_key=True)
    """Has a default in code."""


def _ids(env: dict[str, str], *, silence: tuple[str, ...] = (), **overrides: Any) -> set[str]:
    base = {**PROD, "SIGNING": STRONG[::-1]}
    report = check_settings(App, environ={**base, **env}, silence=silence, **overrides)
    assert not report.failed_to_load, report.text()
    return {p.rule_id for p in report.problems}


CASES: list[tuple[str, dict[str, str]]] = [
    ("HARDENING-SET-001", {"DEBUG": "true"}),
    ("HARDENING-SET-002", {"SECRET_KEY": "changeme"}),
    ("HARDENING-SET-002", {"WEBHOOK_SECRET": "your-secret-here"}),
    ("HARDENING-SET-002", {"SECRET_KEY": "django-insecure-" + STRONG}),
    ("HARDENING-SET-003", {"SECRET_KEY": "Vq8-L2xZr9_TfW4m"}),
    ("HARDENING-SET-004", {"SECRET_KEY": "ab" * 30}),
    ("HARDENING-SET-007", {"API_TOKEN": "tok-123456"}),
    ("HARDENING-SET-009", {"DATABASE_URL": "postgresql://app:pw-123@db/app"}),
    ("HARDENING-SET-010", {"HARDENING_ENVIRONMENT": "qa"}),
    ("HARDENING-SET-012", {"HARDENING_CORS__ALLOW_ORIGNS": "x"}),
]


@pytest.mark.parametrize(("rule_id", "env"), CASES)
def test_rule_triggers(rule_id: str, env: dict[str, str]) -> None:
    assert rule_id in _ids(env)


@pytest.mark.parametrize(("rule_id", "env"), CASES)
def test_rule_is_silenced_by_id(rule_id: str, env: dict[str, str]) -> None:
    report = check_settings(App, environ={**PROD, "SIGNING": STRONG[::-1], **env}, silence=[rule_id])
    assert rule_id not in {p.rule_id for p in report.problems}
    assert rule_id in report.silenced


def test_empty_secret_and_default_in_code_trigger_and_silence() -> None:
    assert "HARDENING-SET-005" in _ids({}, webhook_secret=SecretStr(""))
    assert "HARDENING-SET-005" not in _ids({}, silence=("HARDENING-SET-005",), webhook_secret=SecretStr(""))
    report = check_settings(App, environ=PROD)  # SIGNING left at its code default
    assert "HARDENING-SET-008" in {p.rule_id for p in report.problems}
    silenced = check_settings(App, environ=PROD, silence=["HARDENING-SET-008"])
    assert "HARDENING-SET-008" not in {p.rule_id for p in silenced.problems}


def test_missing_environment_note_triggers_and_silences() -> None:
    assert "HARDENING-SET-011" in {p.rule_id for p in check_settings(App, environ={}).problems}
    report = check_settings(App, environ={}, silence=["HARDENING-SET-011"])
    assert "HARDENING-SET-011" not in {p.rule_id for p in report.problems}


def test_silencing_through_the_environment() -> None:
    ids = _ids({"DEBUG": "1", "HARDENING_SILENCED_CHECKS": "HARDENING-SET-001,HARDENING-SET-012"})
    assert "HARDENING-SET-001" not in ids


def test_rules_do_not_run_in_development() -> None:
    report = check_settings(App, environ={"HARDENING_ENVIRONMENT": "development", "DEBUG": "true"})
    assert "HARDENING-SET-001" not in {p.rule_id for p in report.problems}


def test_staging_runs_the_rules() -> None:
    assert "HARDENING-SET-001" in _ids({"HARDENING_ENVIRONMENT": "staging", "DEBUG": "true"})


def test_strong_key_passes_and_findings_never_show_the_secret() -> None:
    ids = _ids({})
    assert not ids & {"HARDENING-SET-002", "HARDENING-SET-003", "HARDENING-SET-004"}
    report = check_settings(App, environ={**PROD, "SECRET_KEY": "changeme-please-0001"})
    assert "changeme-please-0001" not in report.text() + report.to_json()


def test_error_rule_stops_start_up_and_fail_level_decides() -> None:
    env = {
        **PROD,
        "SIGNING": STRONG[::-1],
        "SECRET_KEY": STRONG.upper(),
        "DEBUG": "true",
        "HARDENING_HOSTS__ALLOWED_HOSTS": "api.example.com",
    }
    with pytest.raises(ConfigurationError) as exc:
        load_settings(App, environ=env)
    assert "HARDENING-SET-001" in str(exc.value)
    env["DEBUG"] = "false"
    env["API_TOKEN"] = "tok-123456"  # a warning only
    report = check_settings(App, environ=env)
    assert not report.failed("error")
    assert report.failed("warning")


def test_hardening_settings_alone_get_the_registry_rules() -> None:
    env = {
        **PROD,
        "HARDENING_SENTRY__SEND_DEFAULT_PII": "true",
        "HARDENING_SENTRY__DSN": "https://k@o1.ingest.sentry.io/1",
        "HARDENING_DEBUG_TYPO": "1",
    }
    ids = {p.rule_id for p in check_settings(HardeningSettings, environ=env).problems}
    assert {"HARDENING-MON-002", "HARDENING-SET-012"} <= ids


def test_every_rule_id_is_documented() -> None:
    ids = {rule_id for rule_id, _env in CASES} | {"HARDENING-SET-005", "HARDENING-SET-008", "HARDENING-SET-011"}
    assert ids == set(RULES)


@pytest.mark.parametrize("value", ["changeme", "CHANGE_ME", "secret", "Password", "xxxx", "my-secret-key"])
def test_placeholders(value: str) -> None:
    assert is_placeholder(value)


def test_entropy_estimate() -> None:
    assert entropy_bits("") == 0
    assert entropy_bits("a" * 64) == 0
    assert entropy_bits(STRONG) > 96
    assert not is_placeholder(STRONG)


def test_fields_naming_where_a_secret_travels_are_not_secrets() -> None:
    """``api_token_header = "x-api-token"`` is a header name (SET-007 stays quiet); the defaults are clean."""
    report = check_settings(App, environ={**PROD, "SIGNING": STRONG[::-1], "API_TOKEN_HEADER": "x-other-token"})
    assert not [p for p in report.problems if p.rule_id == "HARDENING-SET-007"]
    defaults = check_settings(HardeningSettings, environ={**PROD, "HARDENING_HOSTS__ALLOWED_HOSTS": '["a.example"]'})
    assert "HARDENING-SET-007" not in {p.rule_id for p in defaults.problems}
