"""Configuration checks: the settings report and production rules, and the layer stack."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from hardening._environments import is_deployed
from hardening.audit._catalog import Priority
from hardening.audit._model import AuditFinding, Status
from hardening.audit._stack import EXPECTED_LAYERS

if TYPE_CHECKING:
    from hardening.checks import Finding
    from hardening.settings.report import SettingsProblem, SettingsReport

__all__ = ("check_settings_findings", "stack_findings")

_PRIORITY: Final[dict[str, tuple[Priority, Status]]] = {"error": ("P1", "fail"), "warning": ("P2", "warn")}
_CONF_GUIDE: Final = "docs/capabilities/configuration.md"


def _rule_finding(rule_id: str, items: list[SettingsProblem] | list[Finding]) -> AuditFinding | None:
    first = items[0]
    mapped = _PRIORITY.get(first.severity)
    if mapped is None:
        return None
    priority, status = mapped
    env_vars = sorted({item.env_var for item in items if item.env_var})
    fix = first.hint or "See the configuration guide."
    if env_vars:
        fix = f"{fix} (`{'`, `'.join(env_vars)}`)"
    return AuditFinding(
        id=rule_id,
        priority=priority,
        category="Configuration",
        title=first.message.rstrip("."),
        status=status,
        observed=f"Production rule {rule_id} ({first.severity}).",
        fix=fix,
        guide=_CONF_GUIDE,
        details=tuple(f"{item.env_var or item.setting}: {item.message}" for item in items),
    )


def _rule_findings(items: list[SettingsProblem] | list[Finding]) -> list[AuditFinding]:
    """One finding per rule ID (in order of first appearance), for the errors and warnings."""
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(item.rule_id if hasattr(item, "rule_id") else item.id, []).append(item)
    return [finding for rule_id, group in groups.items() if (finding := _rule_finding(rule_id, group)) is not None]


def _environment_finding(environment: str) -> AuditFinding:
    if is_deployed(environment):
        return AuditFinding.of("AUD-SET-001", "pass", f"Environment {environment}: production rules ran.")
    return AuditFinding.of("AUD-SET-001", "warn", f"Environment {environment}: the production rules did not run.")


def _from_report(report: SettingsReport) -> list[AuditFinding]:
    broken = [p for p in report.problems if p.kind in ("missing", "invalid")]
    findings = [_environment_finding(report.environment)]
    if broken:
        findings.append(
            AuditFinding.of(
                "AUD-SET-002",
                "fail",
                f"{len(broken)} setting(s) missing or invalid in {report.settings_class}: "
                + ", ".join(f"{p.env_var or p.setting} ({p.kind})" for p in broken)
                + ".",
                details=[f"{p.env_var}: {p.kind}: {p.message}" for p in broken],
            )
        )
    else:
        findings.append(AuditFinding.of("AUD-SET-002", "pass", f"{report.settings_class} loads and validates."))
    return findings + _rule_findings([p for p in report.problems if p.kind == "rule" and p.rule_id])


def check_settings_findings(settings: Any) -> list[AuditFinding]:
    """Return the configuration findings for a settings class, instance, or ``None``."""
    from pydantic import BaseModel

    from hardening.checks import run_checks
    from hardening.settings import HardeningSettings

    if settings is None:
        why = "No settings given (`--settings MODULE:SettingsClass`)."
        return [AuditFinding.of("AUD-SET-001", "skip", why), AuditFinding.of("AUD-SET-002", "skip", why)]
    if isinstance(settings, type) and issubclass(settings, BaseModel):
        from hardening.settings.loader import check_settings

        return _from_report(check_settings(settings))
    hardening = settings if isinstance(settings, HardeningSettings) else getattr(settings, "hardening", None)
    if not isinstance(hardening, HardeningSettings):
        msg = f"settings must be a settings class or a HardeningSettings/AppSettings object, got {type(settings)!r}"
        raise TypeError(msg)
    findings = [
        _environment_finding(hardening.environment),
        AuditFinding.of("AUD-SET-002", "pass", f"{type(settings).__name__} object given (already validated)."),
    ]
    rules: list[Finding] = list(run_checks(hardening, silenced=hardening.silenced_checks))
    if not isinstance(settings, HardeningSettings):
        from hardening.settings.rules import app_findings

        rules.extend(app_findings(settings))
    return findings + _rule_findings(rules)


def stack_findings(layers: tuple[str, ...] | None) -> list[AuditFinding]:
    """AUD-STACK-001 from the layers found in-process (``None``: probed by URL)."""
    if layers is None:
        return [AuditFinding.of("AUD-STACK-001", "skip", "Probed by URL; the stack is visible in-process only.")]
    missing = [name for name in EXPECTED_LAYERS if name not in layers]
    if not layers:
        return [AuditFinding.of("AUD-STACK-001", "fail", "No `hardening` layer wraps the app.")]
    if missing:
        return [
            AuditFinding.of("AUD-STACK-001", "warn", f"Present: {', '.join(layers)}. Missing: {', '.join(missing)}.")
        ]
    return [AuditFinding.of("AUD-STACK-001", "pass", f"Present: {', '.join(layers)}.")]
