"""Production rules of the CORS layer (``HARDENING-CORS-*``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from hardening._config import env_var
from hardening._environments import is_deployed
from hardening.cors._config import ENV_PREFIX, CORSPolicy
from hardening.cors._origins import parse_origin, regex_host_suffix, wildcard_base_problem
from hardening.findings import Finding

if TYPE_CHECKING:
    from hardening.findings import Rule, RuleInput

__all__ = ("CHECKS",)


def _policies(settings: RuleInput) -> list[tuple[str, str | None, CORSPolicy]]:
    """Return ``(setting, rules env var or None, policy)`` for the config and its rules."""
    cors = settings.cors
    if not cors.enabled:
        return []
    items: list[tuple[str, str | None, CORSPolicy]] = [("cors", None, cors)]
    items.extend((f"cors.rules[{i}]", f"{ENV_PREFIX}RULES", rule) for i, rule in enumerate(cors.rules))
    return items


def _env(rules_env: str | None, field: str) -> str:
    """Return the variable that sets ``field``: its own, or the rules list for a rule."""
    return rules_env or env_var(f"cors.{field}")


def _check_unescaped_dots(settings: RuleInput) -> Iterable[Finding]:
    for setting, env, policy in _policies(settings):
        for regex in policy.allow_origin_regex:
            if _has_unescaped_dot(regex):
                yield Finding(
                    id="HARDENING-CORS-002",
                    severity="warning",
                    message=f"The origin regex {regex!r} has an unescaped '.', which matches any character.",
                    hint="Escape dots in host names ('\\.'), e.g. 'https://app\\.example\\.com'.",
                    setting=f"{setting}.allow_origin_regex",
                    env_var=_env(env, "allow_origin_regex"),
                )


def _has_unescaped_dot(pattern: str) -> bool:
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        elif ch == "." and not in_class:
            return True
        i += 1
    return False


def _check_null_origin(settings: RuleInput) -> Iterable[Finding]:
    for setting, env, policy in _policies(settings):
        if "null" in policy.allow_origins:
            yield Finding(
                id="HARDENING-CORS-003",
                severity="warning",
                message="CORS allows the 'null' origin, which any sandboxed iframe or local file can send.",
                hint="Remove 'null' from the allowed origins.",
                setting=f"{setting}.allow_origins",
                env_var=_env(env, "allow_origins"),
            )


def _check_production_origins(settings: RuleInput) -> Iterable[Finding]:
    if not is_deployed(settings.environment):
        return
    for setting, env, policy in _policies(settings):
        if "*" in policy.allow_origins:
            yield Finding(
                id="HARDENING-CORS-004",
                severity="warning",
                message="CORS allows every origin ('*'): any site can read these responses.",
                hint="Keep '*' for public, unauthenticated data only; otherwise list the origins.",
                setting=f"{setting}.allow_origins",
                env_var=_env(env, "allow_origins"),
            )
        for entry in policy.allow_origins:
            parsed = parse_origin(entry.replace("://*.", "://"))
            if parsed is None:
                continue
            local = parsed.host in ("localhost", "127.0.0.1", "[::1]") or parsed.host.endswith(".localhost")
            if parsed.scheme == "http" or local:
                yield Finding(
                    id="HARDENING-CORS-005",
                    severity="warning",
                    message=f"CORS allows the origin {entry!r} in production (plain http or a local address).",
                    hint="Allow only the https origins of your deployed front ends in production.",
                    setting=f"{setting}.allow_origins",
                    env_var=_env(env, "allow_origins"),
                )


def _check_unproven_regexes(settings: RuleInput) -> Iterable[Finding]:
    """HARDENING-CORS-006: an origin regex not provably below one registrable domain."""
    cors = settings.cors
    if not cors.enabled:
        return
    items: list[tuple[str, str | None, tuple[str, ...], bool]] = [
        ("cors", None, cors.allow_origin_regex, cors.allow_credentials)
    ]
    for i, rule in enumerate(cors.rules):
        if "allow_origin_regex" in rule.model_fields_set:  # inherited ones are judged on the config
            credentials = (
                rule.allow_credentials if "allow_credentials" in rule.model_fields_set else cors.allow_credentials
            )
            items.append((f"cors.rules[{i}]", f"{ENV_PREFIX}RULES", rule.allow_origin_regex, credentials))
    for setting, env, regexes, credentials in items:
        for regex in regexes:
            suffix = regex_host_suffix(regex)
            why = (
                "its hosts do not provably end with one literal domain"
                if suffix is None
                else wildcard_base_problem(suffix)
            )
            if why is None:
                continue
            yield Finding(
                id="HARDENING-CORS-006",
                severity="error" if credentials else "warning",
                message=f"The origin regex {regex!r} may match sites of other owners: {why}"
                + (" (with credentials allowed)." if credentials else "."),
                hint="End the regex with your own registrable domain, dots escaped, e.g. "
                "'https://pr-[0-9]+\\.preview\\.example\\.com', and no top-level '|'.",
                setting=f"{setting}.allow_origin_regex",
                env_var=_env(env, "allow_origin_regex"),
            )


CHECKS: tuple[Rule, ...] = (
    _check_unescaped_dots,
    _check_null_origin,
    _check_production_origins,
    _check_unproven_regexes,
)
"""Production rules of the CORS layer (``HARDENING-CORS-002`` to ``-006``).

A wildcard with credentials (once ``HARDENING-CORS-001``) is no rule: the config refuses it."""
