"""The settings report: every configuration problem at once, never a value.

A :class:`SettingsReport` holds :class:`SettingsProblem` entries of four kinds:
``missing`` and ``invalid`` (the settings could not be built), ``rule`` (a production
rule found something) and ``note`` (for example "environment not set; treated as
production"). Each entry names the environment variable to fix, what was expected, a
hint and the field's description. Entries are built only from field metadata and
pydantic's error *types*; the loader never copies an input value into them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

from hardening.checks import SEVERITY_ORDER, Finding, Severity
from hardening.redaction import redact_text

__all__ = ("FailLevel", "Kind", "Provenance", "SettingsProblem", "SettingsReport", "redact_except_descriptions")

Kind = Literal["missing", "invalid", "rule", "note"]
"""What an entry is about."""

FailLevel = Literal["info", "warning", "error"]
"""The lowest severity that makes a load (or ``hardening env check``) fail."""

_GROUPS: Final[tuple[tuple[Kind, str], ...]] = (
    ("missing", "Missing"),
    ("invalid", "Invalid"),
    ("rule", "Production rules"),
    ("note", "Notes"),
)


_ABOUT: Final = "      about: "


def redact_except_descriptions(data: Any) -> Any:
    """Pass every string in ``data`` through the redaction policy, except ``description`` values.

    A description is the field's own documentation, written in code (``postgresql://user:
    password@host/db`` there is a placeholder, not a credential).
    """
    if isinstance(data, dict):
        return {k: v if k == "description" else redact_except_descriptions(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [redact_except_descriptions(item) for item in data]
    return redact_text(data) if isinstance(data, str) else data


@dataclass(frozen=True, slots=True)
class SettingsProblem:
    """One entry of a :class:`SettingsReport`. Holds no input value.

    Attributes:
        kind: ``missing``, ``invalid``, ``rule`` or ``note``.
        severity: ``info``, ``warning`` or ``error``.
        env_var: The environment variable to fix, prefix included.
        setting: The dotted settings path, for example ``"cors.allow_origins"``.
        message: What is wrong.
        expected: What a valid value looks like.
        hint: How to fix it.
        description: The field's own description.
        rule_id: A stable ID (production rules and notes), for silencing.
        source: Where the offending value came from (``environment``, ``.env``, ...).
    """

    kind: Kind
    severity: Severity
    env_var: str
    setting: str
    message: str
    expected: str = ""
    hint: str = ""
    description: str = ""
    rule_id: str = ""
    source: str = ""

    @classmethod
    def from_finding(cls, finding: Finding, *, description: str = "") -> SettingsProblem:
        """Wrap a production-rule :class:`~hardening.checks.Finding`."""
        return cls(
            kind="rule",
            severity=finding.severity,
            env_var=finding.env_var,
            setting=finding.setting,
            message=finding.message,
            hint=finding.hint,
            description=description,
            rule_id=finding.id,
        )

    @property
    def target(self) -> str:
        """What the entry is about: ``setting cors.max_age (HARDENING_CORS__MAX_AGE)``."""
        if self.setting and self.env_var:
            return f"setting {self.setting} ({self.env_var})"
        return self.env_var or self.setting or "(settings)"

    def sort_key(self) -> tuple[int, str, str, str]:
        """Most severe first, then by variable name and rule ID."""
        return (-SEVERITY_ORDER[self.severity], self.env_var, self.rule_id, self.setting)


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where one field's value came from (``explain()``). Holds no value.

    Attributes:
        setting: The dotted settings path.
        env_var: The main environment variable for the field.
        consulted: Every name that was looked at (``VAR``, ``VAR_FILE``, secrets files).
        source: What won: ``environment``, ``env file``, ``secret file``, ``secrets dir``,
            ``code``, ``environment default``, ``default``, or a custom source's name.
        default: Whether a default (from the code or for the environment) was used.
        secret: Whether the field holds a secret.
        required_in: Environments where a source must set it.
        description: The field's description.
    """

    setting: str
    env_var: str
    consulted: tuple[str, ...]
    source: str
    default: bool
    secret: bool
    required_in: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class SettingsReport:
    """Every problem found while loading settings, grouped and sorted.

    ``str()`` gives the human report; :meth:`to_json` the machine one. Neither ever
    contains an input value.

    Attributes:
        settings_class: The name of the settings class that was loaded.
        environment: The environment the settings were checked for.
        problems: The entries, sorted within their group.
        silenced: Rule IDs that were silenced.
    """

    settings_class: str
    environment: str
    problems: tuple[SettingsProblem, ...] = ()
    silenced: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        order = {kind: index for index, (kind, _title) in enumerate(_GROUPS)}
        ranked = sorted(self.problems, key=lambda p: (order[p.kind], *p.sort_key()))
        object.__setattr__(self, "problems", tuple(ranked))

    @property
    def failed_to_load(self) -> bool:
        """Whether the settings could not be built (something missing or invalid)."""
        return any(p.kind in ("missing", "invalid") for p in self.problems)

    def failures(self, fail_level: FailLevel = "error") -> tuple[SettingsProblem, ...]:
        """Return the entries at or above ``fail_level`` (missing/invalid always count)."""
        floor = SEVERITY_ORDER[fail_level]
        return tuple(
            p for p in self.problems if p.kind in ("missing", "invalid") or SEVERITY_ORDER[p.severity] >= floor
        )

    def failed(self, fail_level: FailLevel = "error") -> bool:
        """Whether anything at or above ``fail_level`` was found."""
        return bool(self.failures(fail_level))

    def __bool__(self) -> bool:
        return bool(self.problems)

    def text(self) -> str:
        """Render the report for people: grouped, sorted, one block per entry."""
        if not self.problems:
            return f"{self.settings_class} ({self.environment}): no problems found."
        count = len(self.problems)
        lines = [f"{self.settings_class} ({self.environment}): {count} problem{'s' * (count != 1)} found."]
        for kind, title in _GROUPS:
            entries = [p for p in self.problems if p.kind == kind]
            if not entries:
                continue
            lines.append("")
            lines.append(f"{title} ({len(entries)}):")
            for entry in entries:
                label = f" {entry.rule_id}" if entry.rule_id else ""
                lines.append(f"  [{entry.severity}]{label} {entry.target}")
                lines.append(f"      {entry.message}")
                if entry.source:
                    lines.append(f"      from: {entry.source}")
                if entry.expected:
                    lines.append(f"      expected: {entry.expected}")
                if entry.hint:
                    lines.append(f"      hint: {entry.hint}")
                if entry.description:
                    lines.append(f"{_ABOUT}{entry.description}")
        if self.silenced:
            lines.append("")
            lines.append(f"Silenced: {', '.join(sorted(self.silenced))}")
        # descriptions come from the code, never from a value: their placeholders stay readable
        return "\n".join(line if line.startswith(_ABOUT) else redact_text(line) for line in lines)

    def to_dict(self) -> dict[str, object]:
        """Return the report as plain data (for JSON)."""
        return {
            "settings_class": self.settings_class,
            "environment": self.environment,
            "problems": [asdict(p) for p in self.problems],
            "silenced": sorted(self.silenced),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """Render the report as JSON."""
        return json.dumps(redact_except_descriptions(self.to_dict()), indent=indent, sort_keys=True)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return (
            f"SettingsReport(settings_class={self.settings_class!r}, "
            f"environment={self.environment!r}, problems={len(self.problems)})"
        )
