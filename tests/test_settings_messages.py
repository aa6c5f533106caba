"""Validators describe the value; the settings loader names the setting and its variable."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from hardening import (
    AccessLogConfig,
    AppSettings,
    HardeningSettings,
    HealthConfig,
    LoggingConfig,
    ProxyConfig,
    RateLimitConfig,
    RequestIdConfig,
    SentryConfig,
    TrustedHostConfig,
    check_settings,
)
from hardening.csrf import CSRFConfig
from hardening.findings import Finding
from hardening.httpsredirect import HTTPSRedirectConfig

DEV = {"HARDENING_ENVIRONMENT": "development"}
SRC = Path(__file__).resolve().parents[1] / "src" / "hardening"

CASES: list[tuple[type[BaseModel], dict[str, Any], str]] = [
    (RequestIdConfig, {"max_length": 3}, "request_id.max_length"),
    (RequestIdConfig, {"header_name": "x id"}, "request_id.header_name"),
    (AccessLogConfig, {"excluded_sample_rate": 2}, "access_log.excluded_sample_rate"),
    (LoggingConfig, {"level": "LOUD"}, "logging.level"),
    (SentryConfig, {"sample_rate": 2}, "sentry.sample_rate"),
    (ProxyConfig, {"trusted_proxies": ["*"]}, "proxy.trusted_proxies"),
    (TrustedHostConfig, {"exempt_paths": ["healthz"]}, "hosts.exempt_paths"),
    (CSRFConfig, {"trusted_origins": ["example.com/x"]}, "csrf.trusted_origins"),
    (HTTPSRedirectConfig, {"exempt_paths": ["x"]}, "https_redirect.exempt_paths"),
    (HealthConfig, {"sync_workers": 0}, "health.sync_workers"),
    pytest.param(  # type: ignore[list-item]
        RateLimitConfig,
        {"default_limits": "5/lightyear"},
        "rate_limit.default_limits",
        marks=pytest.mark.needs_extras,
        id="rate_limit.default_limits",
    ),
]


def _env_value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


@pytest.mark.parametrize(("cls", "values", "setting"), CASES, ids=[case[2] for case in CASES])
def test_built_in_code_the_error_names_the_field_and_no_variable(
    cls: type[BaseModel], values: dict[str, Any], setting: str
) -> None:
    with pytest.raises(ValidationError) as info:
        cls(**values)
    text = str(info.value)
    assert "HARDENING_" not in text
    [error] = info.value.errors()
    assert error["loc"] == (setting.rsplit(".", 1)[1],)


@pytest.mark.parametrize(("cls", "values", "setting"), CASES, ids=[case[2] for case in CASES])
def test_loaded_from_the_environment_the_report_names_setting_and_variable(
    cls: type[BaseModel], values: dict[str, Any], setting: str
) -> None:
    [value] = values.values()
    env = "HARDENING_" + setting.upper().replace(".", "__")
    report = check_settings(environ={**DEV, env: _env_value(value)})
    [problem] = [p for p in report.problems if p.kind == "invalid"]
    assert (problem.setting, problem.env_var) == (setting, env)
    assert "HARDENING_" not in problem.message  # the validator's words describe the value
    assert not problem.message.startswith("Value error")
    assert f"setting {setting} ({env})" in report.text()


def _validator_literals(path: Path) -> list[str]:
    """``HARDENING_`` string literals inside functions decorated as pydantic validators."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        names = {ast.unparse(d).split("(")[0] for d in node.decorator_list}
        if not names & {"field_validator", "model_validator"}:
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Constant) and isinstance(inner.value, str) and "HARDENING_" in inner.value:
                found.append(f"{path.relative_to(SRC)}:{inner.lineno}")
    return found


def test_no_validator_in_the_modules_of_this_change_writes_a_variable_name() -> None:
    modules = [
        "clientip.py", "csrf.py", "hosts.py", "httpsredirect.py", "_paths.py", "logs/access.py",
        "logs/requestid.py", "logs/setup.py", "monitoring/sentry.py", "health/config.py", "ratelimit/config.py",
    ]  # fmt: skip
    found = [hit for name in modules for hit in _validator_literals(SRC / name)]
    assert found == []


def test_a_rule_names_the_setting_and_the_loader_adds_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    def toy_rule(settings: Any) -> Iterator[Finding]:
        yield Finding(id="TOY-001", severity="warning", message="toy rule fired", setting="cors.max_age")

    monkeypatch.setattr(HardeningSettings, "rules", (*HardeningSettings.rules, toy_rule))
    report = check_settings(environ={"HARDENING_ENVIRONMENT": "production"})
    [problem] = [p for p in report.problems if p.rule_id == "TOY-001"]
    assert problem.env_var == "HARDENING_CORS__MAX_AGE"
    assert "TOY-001 setting cors.max_age (HARDENING_CORS__MAX_AGE)" in report.text()
    nested = check_settings(AppSettings, environ={"HARDENING_ENVIRONMENT": "production"})
    [problem] = [p for p in nested.problems if p.rule_id == "TOY-001"]
    assert (problem.setting, problem.env_var) == ("hardening.cors.max_age", "HARDENING_CORS__MAX_AGE")
