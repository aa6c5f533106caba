"""How settings are read: environment, ``.env``, ``VAR_FILE``, secrets dirs, per-environment defaults.

:class:`SettingsBase` replaces pydantic-settings' env, dotenv and secrets sources with
two of ours, so that every problem is *collected* (never raised half-way, never with a
value) and every field's provenance is recorded:

* :class:`EnvSource` reads each field's variable from the environment, its ``_FILE``
  twin, the ``.env`` file(s) and the secrets directory; lists accept JSON or
  comma-separated values; an empty value counts as unset; unknown variables with the
  settings prefix are reported (probably a typo), unrelated ones ignored.
* :class:`EnvironmentDefaultsSource` (lowest priority) applies per-environment defaults and reports
  fields required in this environment that no source set.

Both record problems and provenance in the current
:class:`~hardening.settings.context.LoadContext`.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from hardening._environments import ENVIRONMENT_VAR, Environment, normalize_environment
from hardening.settings.context import CURRENT, LoadContext
from hardening.settings.fields import FieldRow, env_prefix, expected_for, field_table
from hardening.settings.report import Provenance, SettingsProblem
from hardening.settings.secrets import SecretFileError, read_secret_file, register_value

__all__ = ("EnvSource", "EnvironmentDefaultsSource")


def _state_get(state: Mapping[str, Any], path: tuple[str, ...]) -> tuple[bool, Any]:
    current: Any = state
    for part in path:
        if isinstance(current, Mapping):
            if part not in current:
                return False, None
            current = current[part]
        else:
            return True, None  # a model instance given in code covers the whole subtree
    return True, current


def _state_set(out: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    current = out
    for part in path[:-1]:
        current = current.setdefault(part, {})
    current[path[-1]] = value


class _Source(PydanticBaseSettingsSource):
    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # pragma: no cover - __call__ does the work

    @property
    def context(self) -> LoadContext:
        ctx = CURRENT.get()
        if ctx is None:  # pragma: no cover - SettingsBase.__init__ always sets one
            ctx = LoadContext()
            ctx.setup(self.settings_cls)
        return ctx

    def _full(self, setting: str) -> str:
        return self.context.prefixes.get(self.settings_cls, "") + setting

    def _record(self, row: FieldRow, source: str, *, default: bool) -> None:
        """Record where ``row``'s value came from (``explain()``)."""
        setting = self._full(row.setting)
        consulted = (row.env, row.env + "_FILE") if row.kind != "model" else (row.env,)
        self.context.provenance[setting] = Provenance(
            setting=setting,
            env_var=row.env,
            consulted=consulted,
            source=source,
            default=default,
            secret=row.secret,
            required_in=row.spec.required_in if row.spec else (),
            description=row.description,
        )

    def _problem(
        self,
        row: FieldRow,
        message: str,
        kind: Literal["missing", "invalid"],
        *,
        source: str = "",
        hint: str = "",
        expected: str = "",
        env: str = "",
    ) -> None:
        self.context.add(
            SettingsProblem(
                kind=kind,
                severity="error",
                env_var=env or row.env,
                setting=self._full(row.setting),
                message=message,
                expected=expected or expected_for(row),
                hint=hint,
                description=row.description,
                source=source,
            )
        )


class EnvSource(_Source):
    """Environment, ``VAR_FILE``, ``.env`` and secrets-dir values for every field."""

    def __init__(self, settings_cls: type[BaseSettings], env_files: Sequence[Path], secrets_dirs: Sequence[Path]):
        super().__init__(settings_cls)
        self._files = tuple(env_files)
        self._secrets_dirs = tuple(secrets_dirs)

    def __call__(self) -> dict[str, Any]:
        """Return the values found for every field, recording problems and provenance."""
        ctx = self.context
        variables = ctx.variables(self._files)
        secrets_dirs = ctx.secrets_dirs if ctx.secrets_dirs is not None else self._secrets_dirs
        out: dict[str, Any] = {}
        known: set[str] = set()
        for row in field_table(self.settings_cls):
            known.update((row.env.lower(), row.env.lower() + "_file"))
            if row.kind == "settings":
                # validate nested settings as a field (errors keep their location)
                if not _state_get(self.current_state, row.path)[0]:
                    out[row.path[0]] = {}
                continue
            given, _ = _state_get(self.current_state, row.path)
            if given:
                self._record(row, "code", default=False)
                continue
            if ctx.skips(self._full(row.setting)):
                continue
            found = self._lookup(row, variables, [d for d in secrets_dirs if d.is_dir()])
            if found is None:
                continue
            raw, label = found
            value = self._decode(row, raw, label)
            if value is not _UNSET:
                _state_set(out, row.path, value)
                self._record(row, label, default=False)
        self._unknown(variables, known)
        return out

    def _lookup(
        self, row: FieldRow, variables: Mapping[str, tuple[str, str, str]], dirs: Sequence[Path]
    ) -> tuple[str, str] | None:
        ctx = self.context
        name = row.env.lower()
        direct = variables.get(name)
        indirect = variables.get(name + "_file")
        if direct is not None and indirect is not None and direct[2] == indirect[2]:
            self._problem(
                row,
                f"both {row.env} and {row.env}_FILE are set",
                "invalid",
                source=direct[2],
                hint=f"Set only one: {row.env}_FILE for a mounted secret, or {row.env}.",
            )
            return None
        candidates = sorted(
            (item for item in (direct, indirect) if item is not None),
            key=lambda item: item[2] != "environment",
        )
        for key, raw, label in candidates:
            if key.lower() == name:
                return raw, label
            try:
                text = read_secret_file(
                    raw,
                    secrets_dirs=[d for d in (ctx.secrets_dirs or ()) if _within(raw, d)],
                    max_size=ctx.max_secret_file_size,
                )
            except SecretFileError as exc:
                self._problem(
                    row,
                    f"the file named by {row.env}_FILE cannot be used: {exc}",
                    "invalid",
                    env=row.env + "_FILE",
                    source=label,
                    hint="Point it at a readable regular file inside the secrets directory.",
                )
                return None
            return text, f"secret file ({row.env}_FILE)"
        for directory in dirs:
            for candidate in (directory / row.env, directory / row.env.lower()):
                if candidate.exists() or candidate.is_symlink():
                    try:
                        text = read_secret_file(candidate, secrets_dirs=[directory], max_size=ctx.max_secret_file_size)
                    except SecretFileError as exc:
                        self._problem(
                            row,
                            f"the secrets-dir file for {row.env} cannot be used: {exc}",
                            "invalid",
                            source="secrets dir",
                            hint="Replace it with a regular file inside the secrets directory.",
                        )
                        return None
                    return text, "secrets dir"
        return None

    def _decode(self, row: FieldRow, raw: str, label: str) -> Any:
        register_value(raw, secret=row.secret)
        if raw == "":
            return [] if row.kind == "seq" else _UNSET
        if row.kind == "scalar":
            return raw
        text = raw.strip()
        if row.kind == "seq" and not text.startswith("["):
            return [item.strip() for item in text.split(",") if item.strip()]
        try:
            return json.loads(text)
        except ValueError:
            shape = {"seq": "a JSON list or comma-separated values", "map": "a JSON object", "model": "a JSON object"}[
                row.kind
            ]
            looks = " (it looks like JSON but does not parse)" if text[:1] in "[{" else ""
            self._problem(
                row,
                f"could not be parsed{looks}",
                "invalid",
                source=label,
                expected=shape,
                hint=f"Write {shape}, for example {_example(row.kind)}.",
            )
            return _UNSET

    def _unknown(self, variables: Mapping[str, tuple[str, str, str]], known: set[str]) -> None:
        prefix, _ = env_prefix(self.settings_cls)
        if not prefix:
            return
        low = prefix.lower()
        for key, (name, _raw, label) in variables.items():
            if key.startswith(low) and key not in known and key != ENVIRONMENT_VAR.lower():
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f"Did you mean {close[0].upper()}?" if close else "Remove it or fix its name."
                self.context.add(
                    SettingsProblem(
                        kind="note",
                        severity="warning",
                        env_var=name.upper(),
                        setting="",
                        message="unknown variable with the settings prefix; it is ignored",
                        hint=hint,
                        rule_id="HARDENING-SET-012",
                        source=label,
                    )
                )


def _within(raw: str, directory: Path) -> bool:
    given = Path(raw).absolute()
    root = directory.absolute()
    return given == root or root in given.parents


def _example(kind: str) -> str:
    return '["a.example.com", "b.example.com"] or a.example.com,b.example.com' if kind == "seq" else '{"key": "value"}'


_UNSET: Final = object()


class EnvironmentDefaultsSource(_Source):
    """Per-environment defaults and ``required_in`` checks (lowest priority)."""

    def __call__(self) -> dict[str, Any]:
        """Return per-environment defaults; report required fields no source set."""
        ctx = self.context
        environment = self._environment()
        out: dict[str, Any] = {}
        for row in field_table(self.settings_cls):
            if row.kind in ("settings", "model"):
                continue
            setting = self._full(row.setting)
            given, _ = _state_get(self.current_state, row.path)
            if given:
                if setting not in ctx.provenance:
                    self._record(row, "custom source", default=False)
                continue
            spec = row.spec
            if spec is not None and environment in spec.required_in:
                empty = ctx.variables(()).get(row.env.lower(), ("", "x", ""))[1] == ""
                self._problem(
                    row,
                    ("is set but empty" if empty else "is not set") + f"; required in {environment}",
                    "missing",
                    hint=f"Set {row.env} (or {row.env}_FILE pointing at a secret file).",
                )
                self._record(row, "missing", default=True)
                continue
            if spec is not None and environment in spec.defaults:
                _state_set(out, row.path, spec.defaults[environment])
                self._record(row, f"environment default ({environment})", default=True)
                continue
            if not row.info.is_required():
                self._record(row, "default", default=True)
        return out

    def _environment(self) -> Environment:
        ctx = self.context
        owner = "environment" in self.settings_cls.model_fields
        if ctx.environment is not None and not owner:
            return ctx.environment
        raw, source = self._raw_environment()
        environment, how = normalize_environment(raw)
        ctx.environment = environment
        if owner and how in ("missing", "unknown"):
            missing = how == "missing"
            ctx.add(
                SettingsProblem(
                    kind="note",
                    severity="info" if missing else "warning",
                    env_var=ENVIRONMENT_VAR,
                    setting=self._full("environment"),
                    message=("is not set" if missing else "has an unknown value") + "; treated as production",
                    expected="development, test, staging or production",
                    hint="Set HARDENING_ENVIRONMENT explicitly so the production rules run on purpose.",
                    rule_id="HARDENING-SET-011" if missing else "HARDENING-SET-010",
                    source=source,
                )
            )
        return environment

    def _raw_environment(self) -> tuple[object, str]:
        state = self.current_state
        if "environment" in self.settings_cls.model_fields and "environment" in state:
            return state["environment"], "code"
        for row in field_table(self.settings_cls):
            if row.kind == "settings" and row.path[0] in state:
                nested = state[row.path[0]]
                value = (
                    nested.get("environment") if isinstance(nested, Mapping) else getattr(nested, "environment", None)
                )
                if value is not None:
                    return value, "code"
        found = self.context.variables(()).get(ENVIRONMENT_VAR.lower())
        return (found[1], found[2]) if found else (None, "")
