"""Settings loading: every problem at once, env var names, per-environment defaults, provenance, dotenv."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from pydantic import Field, SecretStr, field_validator

from hardening import (
    AppSettings,
    ConfigurationError,
    HardeningSettings,
    SettingsReport,
    check_settings,
    env_example,
    explain,
    load_settings,
    setting,
)
from hardening._environments import normalize_environment
from hardening.redaction import redact_text, registered_secret_count

DEV = {"HARDENING_ENVIRONMENT": "development"}


class Service(AppSettings):
    """A typical service's settings."""

    database_url: SecretStr
    """Where the database lives."""
    port: int = 8000
    """The port to listen on."""
    secret_key: SecretStr = setting(
        SecretStr("dev-only"), required_in=("production", "staging"), description="Signs session cookies."
    )
    log_format: str = setting("json", defaults={"development": "console"})
    """How logs are rendered."""
    allowed: tuple[str, ...] = ()
    """Hosts we call."""
    anthropic_api_key: SecretStr | None = None
    """The LLM provider key."""


def _report(exc: pytest.ExceptionInfo[ConfigurationError]) -> SettingsReport:
    report = exc.value.report
    assert isinstance(report, SettingsReport)
    return report


def test_every_problem_reported_at_once_with_env_var_names() -> None:
    env = {
        "PORT": "eighty",
        "HARDENING_CORS__ALLOW_ORIGINS": "[not json",
        "HARDENING_BODY_LIMIT__MAX_BYTES": "lots",
    }
    with pytest.raises(ConfigurationError) as exc:
        load_settings(Service, environ=env)
    report = _report(exc)
    by_var = {p.env_var: p for p in report.problems if "not evaluated" not in p.message}
    assert by_var["DATABASE_URL"].kind == "missing"
    assert by_var["SECRET_KEY"].kind == "missing"
    assert "required in production" in by_var["SECRET_KEY"].message
    assert by_var["SECRET_KEY"].description == "Signs session cookies."
    assert by_var["PORT"].kind == "invalid"
    assert by_var["PORT"].expected == "an integer"
    assert by_var["PORT"].description == "The port to listen on."
    assert by_var["HARDENING_CORS__ALLOW_ORIGINS"].setting == "hardening.cors.allow_origins"
    assert "JSON" in by_var["HARDENING_CORS__ALLOW_ORIGINS"].hint
    assert by_var["HARDENING_BODY_LIMIT__MAX_BYTES"].kind == "invalid"
    assert by_var["HARDENING_ENVIRONMENT"].rule_id == "HARDENING-SET-011"
    text = str(exc.value)
    assert text.index("Missing (") < text.index("Invalid (") < text.index("Notes (")
    missing = [p.env_var for p in report.problems if p.kind == "missing"]
    assert missing == sorted(missing)
    assert exc.value.__cause__ is None
    assert exc.value.__context__ is None
    assert exc.value.__suppress_context__


def test_missing_environment_means_production_and_says_so() -> None:
    report = check_settings(Service, environ={"DATABASE_URL": "postgresql://x/y"})
    assert report.environment == "production"
    note = next(p for p in report.problems if p.env_var == "HARDENING_ENVIRONMENT")
    assert note.severity == "info"
    assert "treated as production" in note.message


def test_unknown_environment_means_production_with_a_warning() -> None:
    report = check_settings(Service, environ={"HARDENING_ENVIRONMENT": "qa-7", "DATABASE_URL": "x"})
    assert report.environment == "production"
    note = next(p for p in report.problems if p.env_var == "HARDENING_ENVIRONMENT")
    assert (note.rule_id, note.severity) == ("HARDENING-SET-010", "warning")
    assert "qa-7" not in str(report)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("prod", "production"), ("DEV", "development"), ("stage", "staging"), ("test", "test"), ("", "production")],
)
def test_environment_aliases(raw: str, expected: str) -> None:
    assert normalize_environment(raw)[0] == expected
    assert HardeningSettings(environment=raw).environment == expected


def test_environment_defaults_and_required_in_development() -> None:
    settings = load_settings(Service, environ={**DEV, "DATABASE_URL": "postgresql://db/app"})
    assert settings.environment == "development"
    assert settings.log_format == "console"
    assert settings.secret_key.get_secret_value() == "dev-only"
    assert settings.database_url.get_secret_value() == "postgresql://db/app"


def test_environment_default_not_used_in_production_and_explicit_value_wins() -> None:
    env = {**DEV, "DATABASE_URL": "x", "LOG_FORMAT": "json"}
    assert load_settings(Service, environ=env).log_format == "json"
    report = check_settings(Service, environ={"HARDENING_ENVIRONMENT": "staging", "DATABASE_URL": "x"})
    assert [p.env_var for p in report.problems if p.kind == "missing"] == ["SECRET_KEY"]


def test_empty_required_secret_is_reported_as_empty() -> None:
    report = check_settings(Service, environ={"DATABASE_URL": "x", "SECRET_KEY": ""})
    problem = next(p for p in report.problems if p.env_var == "SECRET_KEY")
    assert problem.message.startswith("is set but empty")


def test_lists_accept_json_or_commas() -> None:
    base = {**DEV, "DATABASE_URL": "x"}
    assert load_settings(Service, environ={**base, "ALLOWED": "a.com, b.com"}).allowed == ("a.com", "b.com")
    assert load_settings(Service, environ={**base, "ALLOWED": '["a,b", "c"]'}).allowed == ("a,b", "c")
    assert load_settings(Service, environ={**base, "ALLOWED": ""}).allowed == ()


def test_nested_hardening_settings_from_env() -> None:
    env = {**DEV, "DATABASE_URL": "x", "HARDENING_BODY_LIMIT__MAX_BYTES": "2048"}
    settings = load_settings(Service, environ=env)
    assert settings.hardening.body_limit.max_bytes == 2048
    direct = load_settings(HardeningSettings, environ={**DEV, "HARDENING_BODY_LIMIT__MAX_BYTES": "4096"})
    assert direct.body_limit.max_bytes == 4096


def test_dotenv_with_unrelated_keys_never_crashes_or_prints(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "GITHUB_TOKEN=ghp_canaryUNRELATED123\nSOME_OTHER=1\nHARDENING_ENVIRONMENT=development\n"
        "DATABASE_URL=postgresql://from-dotenv/db\nPORT=9000\n"
    )
    settings = load_settings(Service, env_file=dotenv, environ={"PORT": "9100"})
    assert settings.port == 9100  # the environment beats .env
    assert settings.database_url.get_secret_value() == "postgresql://from-dotenv/db"
    explained = explain(Service, env_file=dotenv, environ={})
    assert "ghp_canaryUNRELATED123" not in explained.text() + explained.to_json()
    assert "GITHUB_TOKEN" not in explained.text()


def test_unknown_prefixed_variable_is_a_warning_with_a_suggestion() -> None:
    report = check_settings(HardeningSettings, environ={**DEV, "HARDENING_CORS__ALLOW_ORIGNS": "https://a.example"})
    problem = next(p for p in report.problems if p.rule_id == "HARDENING-SET-012")
    assert problem.env_var == "HARDENING_CORS__ALLOW_ORIGNS"
    assert "HARDENING_CORS__ALLOW_ORIGINS" in problem.hint
    assert not report.failed("error")
    assert report.failed("warning")


def test_code_overrides_win_and_are_recorded() -> None:
    settings = load_settings(Service, environ={**DEV, "PORT": "1"}, port=2, database_url=SecretStr("x"))
    assert settings.port == 2
    rows = {f.env_var: f for f in explain(Service, environ=DEV, port=2, database_url="x").fields}
    assert rows["PORT"].source == "code"


def test_explain_provenance() -> None:
    env = {**DEV, "DATABASE_URL": "postgresql://u:pw-explain-canary@h/db", "PORT": "81"}
    explained = explain(Service, environ=env)
    rows = {f.env_var: f for f in explained.fields}
    assert rows["PORT"].source == "environment"
    assert not rows["PORT"].default
    assert rows["DATABASE_URL"].secret
    assert rows["DATABASE_URL"].consulted == ("DATABASE_URL", "DATABASE_URL_FILE")
    assert rows["LOG_FORMAT"].source == "environment default (development)"
    assert rows["LOG_FORMAT"].default
    assert rows["SECRET_KEY"].required_in == ("production", "staging")
    assert rows["HARDENING_CORS__ALLOW_ORIGINS"].source == "default"
    assert explained.shown["database_url"] == "********"
    assert explained.shown["port"] == "81"
    text = explained.text()
    assert "pw-explain-canary" not in text
    assert "PORT" in text
    assert "pw-explain-canary" not in explained.to_json()


def test_env_example_lists_every_variable_and_blanks_secrets() -> None:
    example = env_example(Service)
    assert "DATABASE_URL=\n" in example
    assert "SECRET_KEY=\n" in example
    assert "PORT=8000\n" in example
    assert "# The port to listen on." in example
    assert "required in production, staging" in example
    assert "HARDENING_CORS__ALLOW_ORIGINS=" in example
    assert "dev-only" not in example
    lines = [line for line in example.splitlines() if line and not line.startswith("#")]
    assert all("=" in line for line in lines)


def test_loaded_secrets_are_registered_for_redaction() -> None:
    before = registered_secret_count()
    load_settings(
        Service,
        environ={**DEV, "DATABASE_URL": "postgresql://app:pg-pass-9876@db/app", "ANTHROPIC_API_KEY": "sk-ant-reg"},
    )
    assert registered_secret_count() > before
    assert "sk-ant-reg" not in redact_text("calling with sk-ant-reg")
    assert "pg-pass-9876" not in redact_text("connect failed: pg-pass-9876")


def test_warnings_below_fail_level_are_logged_without_values(caplog: pytest.LogCaptureFixture) -> None:
    env = {**DEV, "DATABASE_URL": "x", "HARDENING_TYPO": "value-not-logged"}
    with caplog.at_level(logging.INFO, logger="hardening.settings"):
        load_settings(Service, environ=env)
    assert "HARDENING-SET-012" in caplog.text
    assert "value-not-logged" not in caplog.text


def test_fail_level_warning_stops_on_warnings() -> None:
    env = {**DEV, "DATABASE_URL": "x", "HARDENING_TYPO": "1"}
    with pytest.raises(ConfigurationError):
        load_settings(Service, environ=env, fail_level="warning")
    load_settings(Service, environ=env, fail_level="warning", silence=["HARDENING-SET-012"])


def test_direct_construction_raises_configuration_error_without_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDENING_BODY_LIMIT__MAX_BYTES", "direct-canary-value")
    with pytest.raises(ConfigurationError) as exc:
        HardeningSettings()
    assert "HARDENING_BODY_LIMIT__MAX_BYTES" in str(exc.value)
    assert "direct-canary-value" not in str(exc.value) + repr(exc.value)
    assert exc.value.__context__ is None


def test_custom_validator_message_is_scrubbed_of_the_value() -> None:
    class Echoing(AppSettings):
        region: str = "eu"
        token: SecretStr = Field(default=SecretStr("placeholder-xyz"))

        @field_validator("region")
        @classmethod
        def _check(cls, value: str) -> str:
            msg = f"region {value!r} is not served"
            raise ValueError(msg)

        @field_validator("token")
        @classmethod
        def _check_token(cls, value: SecretStr) -> SecretStr:
            msg = f"token {value.get_secret_value()} revoked"
            raise ValueError(msg)

    with pytest.raises(ConfigurationError) as exc:
        load_settings(Echoing, environ={**DEV, "REGION": "moon-base-7", "TOKEN": "tok-canary-55"})
    text = str(exc.value) + _report(exc).to_json()
    assert "REGION" in text
    assert "TOKEN" in text
    assert "is not served" in text
    assert "moon-base-7" not in text
    assert "tok-canary-55" not in text


def test_model_validator_message_keeps_field_names_and_points_at_the_fields() -> None:
    """A cross-field error keeps 'health.token' readable, hides the value, and does not ask for a JSON object."""
    env = {**DEV, "HARDENING_HEALTH__DETAILS": "token", "HARDENING_HEALTH__SERVICE_ID": "svc-canary-81"}
    report = check_settings(HardeningSettings, environ=env)
    [problem] = [p for p in report.problems if p.kind == "invalid"]
    assert problem.setting == "health"
    # the validator names its fields ("details", "token"); the loader says which settings they are
    assert "health.details (HARDENING_HEALTH__DETAILS) is <value> but" in problem.message
    assert "health.token (HARDENING_HEALTH__TOKEN) is empty; set health.token to" in problem.message
    assert problem.expected == ""
    assert problem.hint == "Fix the health.* settings the message names."
    assert "svc-canary-81" not in report.to_json()


def test_report_json_round_trips() -> None:
    report = check_settings(Service, environ={"PORT": "x"})
    data = json.loads(report.to_json())
    assert data["environment"] == "production"
    assert {p["env_var"] for p in data["problems"]} >= {"PORT", "DATABASE_URL", "SECRET_KEY"}
    assert "problems=" in repr(report)


class Lists(AppSettings):
    """Fields for location mapping."""

    ports: list[int] = Field(default_factory=list)
    """Ports, one error per bad item."""


def test_list_item_errors_point_at_the_item() -> None:
    report = check_settings(Lists, environ={**DEV, "PORTS": "80,http,8080"})
    problem = next(p for p in report.problems if p.kind == "invalid")
    assert (problem.env_var, problem.setting) == ("PORTS", "ports[1]")
    assert "http" not in problem.message


def test_whole_nested_model_as_json_and_leaf_wins() -> None:
    env = {
        **DEV,
        "HARDENING_BODY_LIMIT": '{"max_bytes": 10, "enabled": false}',
        "HARDENING_BODY_LIMIT__MAX_BYTES": "20",
    }
    settings = load_settings(HardeningSettings, environ=env)
    assert settings.body_limit.max_bytes == 20
    assert settings.body_limit.enabled is False


def test_a_crashing_validator_is_reported_by_type_only() -> None:
    class Crashing(AppSettings):
        value: str = "x"

        @field_validator("value")
        @classmethod
        def _boom(cls, value: str) -> str:
            raise KeyError(value)

    with pytest.raises(ConfigurationError) as exc:
        load_settings(Crashing, environ={**DEV, "VALUE": "boom-canary-31"})
    assert "KeyError" in str(exc.value)
    assert "boom-canary-31" not in str(exc.value)


def test_setting_rejects_unknown_environment_names() -> None:
    with pytest.raises(ValueError, match="unknown environment"):
        setting(1, required_in=("prodution",))


def test_explain_on_a_failed_load_shows_no_values_and_the_report() -> None:
    explained = explain(Service, environ={"PORT": "bad", "DATABASE_URL": "postgresql://u:pw-x@h/d"})
    assert explained.shown == {}
    assert explained.report.failed_to_load
    assert "PORT" in explained.text()
    assert "pw-x" not in explained.text()


def test_clean_report_text() -> None:
    report = check_settings(Service, environ={**DEV, "DATABASE_URL": "x"})
    assert not report
    assert "no problems found" in report.text()


@pytest.mark.needs_extras  # harden() defaults need hardening[headers,ratelimit]
def test_harden_without_settings_loads_them_and_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    from hardening import harden

    async def app(scope: object, receive: object, send: object) -> None:  # pragma: no cover - never called
        return None

    monkeypatch.setenv("HARDENING_ENVIRONMENT", "development")
    assert harden(app) is not app
    monkeypatch.setenv("HARDENING_BODY_LIMIT__MAX_BYTES", "harden-canary-77")
    with pytest.raises(ConfigurationError) as exc:
        harden(app)
    assert "HARDENING_BODY_LIMIT__MAX_BYTES" in str(exc.value)
    assert "harden-canary-77" not in str(exc.value)
