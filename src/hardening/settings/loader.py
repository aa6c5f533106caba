"""``load_settings()``, ``check_settings()``, ``explain()`` and ``env_example()``.

``load_settings(cls)`` reads the settings, runs the production rules (in production and
staging), and either returns the settings or raises :class:`~hardening.ConfigurationError`
whose ``report`` lists every problem at once. Nothing it raises, logs or returns ever
contains an input value: pydantic's ``ValidationError`` (which dumps the merged input,
other fields' secrets included) is turned into a value-free report and dropped, and the
error is raised outside any ``except`` block, so ``__cause__`` and ``__context__`` are
both empty.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic_core import PydanticUndefined

from hardening._environments import is_deployed
from hardening.checks import collect_checks, run_checks
from hardening.errors import ConfigurationError
from hardening.findings import Finding
from hardening.redaction import redact_text
from hardening.settings.base import build_collecting
from hardening.settings.context import LoadContext, as_paths
from hardening.settings.fields import FieldRow, all_rows, expected_for, field_table, value_at
from hardening.settings.judge import covers, failed_settings, judge, partial_settings
from hardening.settings.models import AppSettings, HardeningSettings
from hardening.settings.report import FailLevel, Provenance, SettingsProblem, SettingsReport, redact_except_descriptions
from hardening.settings.rules import app_findings
from hardening.settings.secrets import DEFAULT_MAX_SECRET_FILE_SIZE, register_model_secrets

__all__ = ("Explanation", "check_settings", "env_example", "explain", "load_settings")

S = TypeVar("S", bound=BaseModel)

logger = logging.getLogger("hardening.settings")

PathArg = str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None


def _context(env_file: PathArg, secrets_dir: PathArg, environ: Mapping[str, str] | None, max_size: int) -> LoadContext:
    return LoadContext(
        environ=environ,
        env_files=None if env_file is None else as_paths(_listify(env_file)),
        secrets_dirs=None if secrets_dir is None else as_paths(_listify(secrets_dir)),
        max_secret_file_size=max_size,
    )


def _listify(value: Any) -> Any:
    return value if isinstance(value, (str, os.PathLike)) else list(value)


def _check(
    cls: type[S],
    ctx: LoadContext,
    silence: Iterable[str],
    overrides: Mapping[str, Any],
) -> tuple[S | None, SettingsReport]:
    ctx.setup(cls)
    built: list[S] = []
    build_collecting(cls, ctx, lambda: built.append(cls(**overrides)))
    settings = built[0] if built and not any(p.kind in ("missing", "invalid") for p in ctx.problems) else None
    problems = list(ctx.problems)
    environment = ctx.environment or "production"
    silenced = set(silence)
    if settings is not None:
        register_model_secrets(settings)
        hardening = settings if isinstance(settings, HardeningSettings) else getattr(settings, "hardening", None)
        if isinstance(hardening, HardeningSettings):
            environment = hardening.environment
            silenced.update(hardening.silenced_checks)
        if is_deployed(environment):
            findings = list(run_checks(hardening)) if isinstance(hardening, HardeningSettings) else []
            if not isinstance(settings, HardeningSettings):
                findings.extend(app_findings(settings))
            problems.extend(_rule_problems(findings, isinstance(settings, AppSettings)))
    elif is_deployed(environment):
        problems.extend(_rules_on_what_loaded(cls, ctx, overrides, silenced))
    kept = tuple(p for p in problems if not p.rule_id or p.rule_id not in silenced)
    used = tuple(sorted({p.rule_id for p in problems if p.rule_id in silenced}))
    return settings, SettingsReport(cls.__name__, environment, kept, used)


def _rule_problems(findings: Iterable[Finding], nested: bool) -> list[SettingsProblem]:
    """Report entries for rule findings (``nested``: ``hardening``'s settings sit under ``hardening.``)."""
    rows = {row.setting: row for row in field_table(HardeningSettings)}
    problems = []
    for finding in findings:
        row = rows.get(finding.setting)
        if row is not None and not finding.env_var:  # a rule names the setting; the loader, its variable
            finding = dataclasses.replace(finding, env_var=row.env)
        problem = SettingsProblem.from_finding(finding, description=row.description if row else "")
        if nested and row is not None and finding.env_var.startswith("HARDENING_"):
            problem = dataclasses.replace(problem, setting="hardening." + problem.setting)
        problems.append(problem)
    return problems


def _rules_on_what_loaded(
    cls: type[BaseModel], ctx: LoadContext, overrides: Mapping[str, Any], silenced: set[str]
) -> list[SettingsProblem]:
    """When something failed: the production rules that can be judged on the rest (see ``judge``)."""
    failed = failed_settings(ctx.problems)
    partial = partial_settings(cls, ctx, overrides, failed)
    nested = issubclass(cls, AppSettings)
    hardening = partial if isinstance(partial, HardeningSettings) else getattr(partial, "hardening", None)
    if hardening is None and nested:  # the app's own fields cannot be built: judge hardening's alone
        given = overrides.get("hardening")
        hardening = partial_settings(
            HardeningSettings,
            ctx,
            given if isinstance(given, Mapping) else {},
            failed_settings(ctx.problems, "hardening."),
        )
    if not isinstance(hardening, HardeningSettings):
        return []
    silenced.update(hardening.silenced_checks)
    own = failed_settings(ctx.problems, "hardening.") if nested else failed
    findings, notes = judge(hardening, collect_checks(hardening), HardeningSettings.rules, own)
    if partial is not None and nested:
        findings.extend(f for f in app_findings(partial) if not covers(failed, f.setting))
    if nested:
        notes = [dataclasses.replace(note, setting="hardening." + note.setting) for note in notes]
    return [*_rule_problems(findings, nested), *notes]


def check_settings(
    cls: type[BaseModel] = HardeningSettings,
    *,
    env_file: PathArg = None,
    secrets_dir: PathArg = None,
    silence: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
    max_secret_file_size: int = DEFAULT_MAX_SECRET_FILE_SIZE,
    **overrides: Any,
) -> SettingsReport:
    """Load ``cls`` and return the full report, without raising for problems.

    Takes the same arguments as :func:`load_settings`.
    """
    ctx = _context(env_file, secrets_dir, environ, max_secret_file_size)
    return _check(cls, ctx, silence, overrides)[1]


def load_settings(
    cls: type[S] = HardeningSettings,  # type: ignore[assignment]  # the default fits S's bound
    *,
    env_file: PathArg = None,
    secrets_dir: PathArg = None,
    fail_level: FailLevel = "error",
    silence: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
    max_secret_file_size: int = DEFAULT_MAX_SECRET_FILE_SIZE,
    **overrides: Any,
) -> S:
    """Load, validate and check the settings; raise with the full report on problems.

    Args:
        cls: The settings class: :class:`~hardening.HardeningSettings` or a subclass of
            :class:`~hardening.AppSettings`.
        env_file: ``.env`` file(s) to read (default: the class's ``env_file``, if any).
            Missing files are skipped; unrelated keys in them are ignored.
        secrets_dir: Directory (or directories) of secret files named after the
            variables (default: the class's ``secrets_dir``). Missing ones are skipped.
        fail_level: The lowest production-rule severity that stops start-up.
            Missing and invalid settings always do.
        silence: Rule IDs to leave out (also ``HARDENING_SILENCED_CHECKS``).
        environ: The environment to read (default: ``os.environ``).
        max_secret_file_size: The largest secret file read, in bytes.
        **overrides: Values set in code; they win over every source.

    Returns:
        The validated settings. Every secret in them is registered with the shared
        redaction policy; warnings below ``fail_level`` are logged on
        ``hardening.settings``.

    Raises:
        ConfigurationError: Something is missing or invalid, or a production rule at or
            above ``fail_level`` fired. ``error.report`` is the
            :class:`~hardening.SettingsReport`; no input value is in it.
    """
    ctx = _context(env_file, secrets_dir, environ, max_secret_file_size)
    settings, report = _check(cls, ctx, silence, overrides)
    if settings is None or report.failed(fail_level):
        raise ConfigurationError(f"Invalid configuration.\n{report.text()}", report=report) from None
    for problem in report.problems:
        level = logging.INFO if problem.severity == "info" else logging.WARNING
        logger.log(level, "%s %s: %s", problem.rule_id, problem.env_var, problem.message)
    return settings


@dataclass(frozen=True)
class Explanation:
    """Where every field's value came from (``hardening env explain``). Values masked.

    Attributes:
        settings_class: The settings class name.
        environment: The environment that was resolved.
        fields: One :class:`~hardening.settings.report.Provenance` per field.
        shown: Display values by setting path: secrets as ``********``, other values
            passed through the redaction policy.
        report: The problems found while loading.
    """

    settings_class: str
    environment: str
    fields: tuple[Provenance, ...]
    shown: Mapping[str, str]
    report: SettingsReport

    def text(self) -> str:
        """Render one line per field."""
        lines = [f"{self.settings_class} ({self.environment})"]
        width = max((len(f.env_var) for f in self.fields), default=0)
        for item in self.fields:
            flags = ["secret"] if item.secret else []
            if item.default:
                flags.append("default")
            if item.required_in:
                flags.append("required in " + "/".join(item.required_in))
            value = self.shown.get(item.setting, "")
            lines.append(
                f"  {item.env_var.ljust(width)}  <- {item.source}"
                + (f"  = {value}" if value else "")
                + (f"  [{', '.join(flags)}]" if flags else "")
            )
        text = redact_text("\n".join(lines))
        return f"{text}\n\n{self.report.text()}" if self.report.failed_to_load else text

    def to_json(self) -> str:
        """Render as JSON."""
        data = {
            "settings_class": self.settings_class,
            "environment": self.environment,
            "fields": [{**asdict(f), "value": self.shown.get(f.setting, "")} for f in self.fields],
            "report": self.report.to_dict(),
        }
        return json.dumps(redact_except_descriptions(data), indent=2, sort_keys=True)


def explain(
    cls: type[BaseModel] = HardeningSettings,
    *,
    env_file: PathArg = None,
    secrets_dir: PathArg = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Explanation:
    """Explain, per field, the variables consulted, the winning source and the value (masked).

    Works even when the settings fail to load (values are then not shown).
    """
    ctx = _context(env_file, secrets_dir, environ, DEFAULT_MAX_SECRET_FILE_SIZE)
    settings, report = _check(cls, ctx, (), overrides)
    order = {setting: index for index, (setting, _row) in enumerate(all_rows(cls))}
    fields = tuple(sorted(ctx.provenance.values(), key=lambda p: order.get(p.setting, len(order))))
    shown: dict[str, str] = {}
    if settings is not None:
        for item in fields:
            shown[item.setting] = _display(value_at(settings, item.setting.split(".")), secret=item.secret)
    return Explanation(cls.__name__, report.environment, fields, shown, report)


def _display(value: Any, *, secret: bool) -> str:
    if isinstance(value, (SecretStr, SecretBytes)) or (secret and value is not None):
        return "********" if value else ""
    return redact_text(_env_text(value))[:120]


def _env_text(value: Any) -> str:
    if value is None or value is PydanticUndefined:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [str(item) for item in value]
        if any("," in item for item in items):
            return json.dumps(items)
        return ",".join(items)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return str(value)


def env_example(cls: type[BaseModel] = HardeningSettings) -> str:
    """Return a ``.env.example`` for ``cls``: every variable, described, secrets blank."""
    lines = [
        f"# .env.example for {cls.__name__} (generated by `hardening env example`).",
        "# Secrets are left blank: set them from your secret store, or as VAR_FILE=/run/secrets/...",
    ]
    for _setting, row in all_rows(cls):
        if row.kind == "model":
            continue
        lines.append("")
        if row.description:
            lines.append(f"# {row.description}")
        lines.append("# " + _example_meta(row))
        lines.append(f"{row.env}={_example_value(row)}")
    return "\n".join(lines) + "\n"


def _example_meta(row: FieldRow) -> str:
    parts = [f"expected: {expected_for(row)}"]
    if row.secret:
        parts.append("SECRET")
    if row.info.is_required():
        parts.append("required")
    else:
        default = row.info.get_default(call_default_factory=True)
        if not row.secret and default is not None:
            parts.append(f"default: {_env_text(default) or '(empty)'}")
    if row.spec and row.spec.required_in:
        parts.append("required in " + ", ".join(row.spec.required_in))
    if row.spec and row.spec.defaults:
        defaults = ", ".join(f"{env}: {_env_text(v)}" for env, v in row.spec.defaults.items())
        if not row.secret:
            parts.append(f"defaults by environment: {defaults}")
    return "; ".join(parts)


def _example_value(row: FieldRow) -> str:
    if row.secret:
        return ""
    if row.spec and row.spec.example is not None:
        return row.spec.example
    if row.info.is_required():
        return ""
    return _env_text(row.info.get_default(call_default_factory=True))
