"""CORS wildcards with credentials: only below a registrable domain (Public Suffix List).

Issue 19: ``allow_origins=["https://*.com"]`` with ``allow_credentials=True`` used to
start and answer ``https://evil.com`` with its origin and credentials.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hardening import HardeningSettings
from hardening.checks import run_checks
from hardening.cors import CORSConfig, CORSMiddleware, CORSRule
from hardening.errors import ConfigurationError
from tests.asgi_call import call, http_scope

pytestmark = pytest.mark.anyio

PUBLIC_SUFFIX_PATTERNS = ["https://*.com", "https://*.co.uk", "https://*.github.io", "https://*.herokuapp.com"]
BELOW_A_REGISTRABLE_DOMAIN = [
    "https://*.example.com",
    "https://*.example.co.uk",
    "https://*.pages.example.github.io",
    "https://*.me.github.io",
    "http://*.localhost:3000",
    "https://*.corp.internal",
    "https://*.internal",
    "https://*.test",
]


async def echo(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize("pattern", PUBLIC_SUFFIX_PATTERNS)
def test_a_wildcard_under_a_public_suffix_with_credentials_stops_start_up(pattern: str) -> None:
    suffix = pattern.removeprefix("https://*.")
    with pytest.raises(ValidationError, match="Public Suffix List") as info:
        CORSConfig(allow_origins=[pattern], allow_credentials=True)
    message = str(info.value)
    assert f"'{suffix}' is a public suffix" in message
    assert "allow_origins" in message
    assert "allow_credentials" in message


@pytest.mark.parametrize("pattern", PUBLIC_SUFFIX_PATTERNS)
async def test_evil_com_never_gets_credentials_through_a_public_suffix_pattern(pattern: str) -> None:
    """The attack of issue 19, also with a config built without validation."""
    unchecked = CORSConfig.model_construct(allow_origins=(pattern,), allow_credentials=True, rules=())
    with pytest.raises(ConfigurationError, match="public suffix"):
        CORSMiddleware(echo, unchecked)


def test_the_environment_names_the_setting_its_variable_and_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDENING_ENVIRONMENT", "development")
    monkeypatch.setenv("HARDENING_CORS__ALLOW_ORIGINS", '["https://*.co.uk"]')
    monkeypatch.setenv("HARDENING_CORS__ALLOW_CREDENTIALS", "true")
    with pytest.raises(ConfigurationError) as info:
        HardeningSettings()
    message = str(info.value)
    assert "HARDENING_CORS__ALLOW_ORIGINS" in message
    assert "HARDENING_CORS__ALLOW_CREDENTIALS" in message
    assert "'co.uk' is a public suffix" in message


def test_a_rule_inheriting_credentials_is_judged_too() -> None:
    with pytest.raises(ValidationError, match=r"(?s)public suffix.*in the rule for '/public'"):
        CORSConfig(allow_credentials=True, rules=[CORSRule(path="/public", allow_origins=["https://*.github.io"])])


@pytest.mark.parametrize("pattern", BELOW_A_REGISTRABLE_DOMAIN)
async def test_a_wildcard_below_a_registrable_domain_or_special_use_name_is_accepted(pattern: str) -> None:
    config = CORSConfig(allow_origins=[pattern], allow_credentials=True)
    origin = pattern.replace("*", "app")
    result = await call(CORSMiddleware(echo, config), http_scope(headers=[(b"origin", origin.encode())]))
    assert result.headers["access-control-allow-origin"] == origin
    assert result.headers["access-control-allow-credentials"] == "true"


@pytest.mark.parametrize("pattern", PUBLIC_SUFFIX_PATTERNS)
def test_without_credentials_a_public_suffix_pattern_is_allowed(pattern: str) -> None:
    """Like '*' without credentials: public data, no cookies."""
    assert CORSConfig(allow_origins=[pattern]).allow_origins == (pattern,)


@pytest.mark.parametrize(
    ("base", "refused"),
    [
        ("com", True),
        ("co.uk", True),
        ("github.io", True),
        ("corp", True),  # not a special-use name: the PSL's default rule makes it a suffix
        ("example.com", False),
        ("a.example.co.uk", False),
        ("localhost", False),
        ("internal", False),
        ("svc.cluster.local", False),
        ("home.arpa", False),
    ],
)
def test_wildcard_base_problem(base: str, refused: bool) -> None:
    from hardening.cors._origins import wildcard_base_problem

    assert (wildcard_base_problem(base) is not None) is refused


@pytest.mark.parametrize(
    ("regex", "suffix"),
    [
        (r"https://pr-[0-9]+\.preview\.example\.com", "preview.example.com"),
        (r"https://app\.example\.com", "example.com"),
        (r"https://[a-z0-9-]+\.example\.com(:[0-9]+)?", "example.com"),
        (r"https://[a-z0-9-]+\.example\.com(?::\d+)?", "example.com"),
        (r"https://[a-z]+\.github\.io", "github.io"),
        (r"https://[a-z]+\.example\.com|https://[a-z]+\.evil\.com", None),  # top-level alternation
        (r"https://[a-z]+\.exampl[e]\.com", "com"),
        (r"https://[a-z.]+", None),
        (r"https://(a|b)\.example\.com", "example.com"),
        (r"https://[a-z]+\.example\.co+m", None),
    ],
)
def test_regex_host_suffix(regex: str, suffix: str | None) -> None:
    from hardening.cors._origins import regex_host_suffix

    assert regex_host_suffix(regex) == suffix


def cors_ids(**cors: Any) -> dict[str, str]:
    settings = HardeningSettings(environment="production", cors=CORSConfig(**cors))
    return {f.id: f.severity for f in run_checks(settings) if f.id == "HARDENING-CORS-006"}


def test_regex_origins_not_provably_below_a_registrable_domain_get_a_production_rule() -> None:
    assert cors_ids(allow_origin_regex=[r"https://[a-z]+\.github\.io"], allow_credentials=True) == {
        "HARDENING-CORS-006": "error"
    }
    assert cors_ids(allow_origin_regex=[r"https://[a-z]+\.example\.com|https://[a-z]+\.evil\.com"]) == {
        "HARDENING-CORS-006": "warning"
    }
    assert cors_ids(allow_origin_regex=[r"https://pr-[0-9]+\.preview\.example\.com"], allow_credentials=True) == {}
    rule = CORSRule(path="/x", allow_origin_regex=[r"https://[a-z]+\.co\.uk"])
    settings = HardeningSettings(environment="production", cors=CORSConfig(allow_credentials=True, rules=[rule]))
    found = [f for f in run_checks(settings) if f.id == "HARDENING-CORS-006"]
    assert [(f.severity, f.setting, f.env_var) for f in found] == [
        ("error", "cors.rules[0].allow_origin_regex", "HARDENING_CORS__RULES")
    ]
