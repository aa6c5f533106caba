"""How settings are read: environment, ``.env``, ``VAR_FILE``, secrets dirs, profiles.

:class:`SettingsBase` replaces pydantic-settings' env, dotenv and secrets sources with
two of ours, so that every problem is *collected* (never raised half-way, never with a
value) and every field's provenance is recorded:

* :class:`EnvSource` reads each field's variable from the environment, its ``_FILE``
  twin, the ``.env`` file(s) and the secrets directory; lists accept JSON or
  comma-separated values; an empty value counts as unset; unknown variables with the
  settings prefix are reported (probably a typo), unrelated ones ignored.
* :class:`ProfileSource` (lowest priority) applies per-environment defaults and reports
  fields required in this environment that no source set.

A :class:`LoadContext` (a context variable) carries the options and collects problems
and provenance; nested settings (``AppSettings.hardening``) share their parent's.
"""

from __future__ import annotations

import contextvars
import difflib
import json
import os
import re
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from dotenv import dotenv_values
from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from hardening.errors import ConfigurationError, SafeValueError
from hardening.profiles import ENVIRONMENT_VAR, Environment, SettingSpec, normalize_environment, setting_spec
from hardening.redaction import is_sensitive_key, redact_text
from hardening.secrets import DEFAULT_MAX_SECRET_FILE_SIZE, SecretFileError, read_secret_file, register_value
from hardening.settings_report import Provenance, SettingsProblem, SettingsReport

if TYPE_CHECKING:
    pass

__all__ = ("LoadContext", "SettingsBase", "field_table", "locate")

Kind = Literal["model", "settings", "seq", "map", "scalar"]
_SEQ_ORIGINS: Final = (list, tuple, set, frozenset, Sequence, AbstractSet)
_MAP_ORIGINS: Final = (dict, Mapping)


# --- field tables -------------------------------------------------------------------


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if origin in (typing.Union, types.UnionType) and len(args) == 1:
            annotation = args[0]
            continue
        return annotation


def _kind(annotation: Any) -> Kind:
    ann = _unwrap(annotation)
    if isinstance(ann, type):
        if issubclass(ann, BaseSettings):
            return "settings"
        if issubclass(ann, BaseModel):
            return "model"
        if issubclass(ann, (str, bytes)):
            return "scalar"
        if issubclass(ann, (list, tuple, set, frozenset)):
            return "seq"
        if issubclass(ann, dict):
            return "map"
    origin = typing.get_origin(ann)
    if origin in _SEQ_ORIGINS:
        return "seq"
    if origin in _MAP_ORIGINS:
        return "map"
    return "scalar"


def _is_secret_type(annotation: Any) -> bool:
    ann = _unwrap(annotation)
    return isinstance(ann, type) and issubclass(ann, (SecretStr, SecretBytes))


@dataclass(frozen=True, slots=True)
class FieldRow:
    """One settings field with its environment variable (a leaf or a nested model)."""

    path: tuple[str, ...]
    env: str
    info: FieldInfo
    kind: Kind
    secret: bool
    spec: SettingSpec | None

    @property
    def setting(self) -> str:
        """The dotted path."""
        return ".".join(self.path)

    @property
    def description(self) -> str:
        """The field's description (its attribute docstring), on one line."""
        return " ".join((self.info.description or "").split())


def _prefix(cls: type[BaseModel]) -> tuple[str, str]:
    config = cls.model_config
    return str(config.get("env_prefix") or ""), str(config.get("env_nested_delimiter") or "__")


def _env_name(name: str, info: FieldInfo) -> tuple[str, bool]:
    alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
    return (alias, True) if alias else (name, False)


@cache
def field_table(cls: type[BaseModel]) -> tuple[FieldRow, ...]:
    """Every field of ``cls`` (nested models flattened; nested settings as one row)."""
    prefix, delimiter = _prefix(cls) if issubclass(cls, BaseSettings) else ("", "__")
    return tuple(_rows(cls, prefix, delimiter, ()))


def _rows(cls: type[BaseModel], prefix: str, delimiter: str, path: tuple[str, ...]) -> Iterator[FieldRow]:
    for name, info in cls.model_fields.items():
        env_part, aliased = _env_name(name, info)
        env = (env_part if aliased and not path else prefix + env_part).upper()
        kind = _kind(info.annotation)
        row = FieldRow((*path, name), env, info, kind, _is_secret_type(info.annotation), setting_spec(info))
        yield row
        if kind == "model":
            yield from _rows(_unwrap(info.annotation), env + delimiter, delimiter, (*path, name))


def locate(cls: type[BaseModel], loc: Sequence[int | str]) -> tuple[str, str, FieldRow | None]:
    """Map a pydantic error location to ``(env var, dotted setting, row)``."""
    current: type[BaseModel] = cls
    base: tuple[str, ...] = ()
    rows = {row.path: row for row in field_table(cls)}
    found: FieldRow | None = None
    extra = ""
    path: tuple[str, ...] = ()
    for part in loc:
        if found is not None and found.kind in ("scalar", "seq", "map"):
            extra += f"[{part}]" if isinstance(part, int) else f".{part}"
            continue
        if not isinstance(part, str):
            extra += f"[{part}]"
            continue
        row = rows.get((*path, part))
        if row is None:
            extra += f".{part}"
            continue
        if row.kind == "settings":
            current = _unwrap(row.info.annotation)
            base = (*base, *path, part)
            path = ()
            rows = {r.path: r for r in field_table(current)}
            found = None
            continue
        found = row
        path = (*path, part)
    setting = ".".join((*base, *path)) + extra
    if found is None:
        prefix, _ = _prefix(current) if issubclass(current, BaseSettings) else ("", "")
        return (prefix.upper().rstrip("_") or "(settings)", setting or "(settings)", None)
    return (found.env, setting, found)


# --- the load context ---------------------------------------------------------------


@dataclass
class LoadContext:
    """Options for one settings load, and what it found."""

    environ: Mapping[str, str] | None = None
    env_files: tuple[Path, ...] | None = None
    secrets_dirs: tuple[Path, ...] | None = None
    max_secret_file_size: int = DEFAULT_MAX_SECRET_FILE_SIZE
    root: type[BaseModel] | None = None
    environment: Environment | None = None
    problems: list[SettingsProblem] = field(default_factory=list)
    provenance: dict[str, Provenance] = field(default_factory=dict)
    prefixes: dict[type[BaseModel], str] = field(default_factory=dict)
    _env_cache: dict[str, tuple[str, str, str]] | None = None

    def setup(self, root: type[BaseModel]) -> None:
        """Remember the root class and where nested settings classes sit in it."""
        self.root = root
        self.prefixes = {root: ""}
        for row in field_table(root):
            if row.kind == "settings":
                self.prefixes.setdefault(_unwrap(row.info.annotation), row.setting + ".")

    def add(self, problem: SettingsProblem) -> None:
        """Record a problem once."""
        if problem not in self.problems:
            self.problems.append(problem)

    def variables(self, default_files: Sequence[Path]) -> dict[str, tuple[str, str, str]]:
        """Return ``{lowercase name: (name, raw value, source label)}``; env beats ``.env``."""
        if self._env_cache is not None:
            return self._env_cache
        merged: dict[str, tuple[str, str, str]] = {}
        files = self.env_files if self.env_files is not None else tuple(default_files)
        for path in files:
            if not path.is_file():
                continue
            for key, value in dotenv_values(path).items():
                if value is not None:
                    merged[key.lower()] = (key, value, f"env file {path.name}")
        environ = os.environ if self.environ is None else self.environ
        for key, value in environ.items():
            merged[key.lower()] = (key, value, "environment")
        self._env_cache = merged
        return merged


_CONTEXT: contextvars.ContextVar[LoadContext | None] = contextvars.ContextVar("hardening_settings_load", default=None)


def _as_paths(value: object) -> tuple[Path, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, os.PathLike)):
        return (Path(value),)
    if isinstance(value, (list, tuple)):
        return tuple(Path(item) for item in value)
    return ()


# --- sources ------------------------------------------------------------------------


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
        ctx = _CONTEXT.get()
        if ctx is None:  # pragma: no cover - SettingsBase.__init__ always sets one
            ctx = LoadContext()
            ctx.setup(self.settings_cls)
        return ctx

    def _full(self, setting: str) -> str:
        return self.context.prefixes.get(self.settings_cls, "") + setting


class EnvSource(_Source):
    """Environment, ``VAR_FILE``, ``.env`` and secrets-dir values for every field."""

    def __init__(self, settings_cls: type[BaseSettings], env_files: Sequence[Path], secrets_dirs: Sequence[Path]):
        super().__init__(settings_cls)
        self._files = tuple(env_files)
        self._secrets_dirs = tuple(secrets_dirs)

    def __call__(self) -> dict[str, Any]:
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
        prefix, _ = _prefix(self.settings_cls)
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

    def _record(self, row: FieldRow, source: str, *, default: bool) -> None:
        _record(self.context, self._full(row.setting), row, source, default=default)

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


def _within(raw: str, directory: Path) -> bool:
    given = Path(raw).absolute()
    root = directory.absolute()
    return given == root or root in given.parents


def _example(kind: str) -> str:
    return '["a.example.com", "b.example.com"] or a.example.com,b.example.com' if kind == "seq" else '{"key": "value"}'


_UNSET: Final = object()


def _record(ctx: LoadContext, setting: str, row: FieldRow, source: str, *, default: bool) -> None:
    consulted = (row.env, row.env + "_FILE") if row.kind != "model" else (row.env,)
    ctx.provenance[setting] = Provenance(
        setting=setting,
        env_var=row.env,
        consulted=consulted,
        source=source,
        default=default,
        secret=row.secret,
        required_in=row.spec.required_in if row.spec else (),
        description=row.description,
    )


class ProfileSource(_Source):
    """Per-environment defaults and ``required_in`` checks (lowest priority)."""

    def __call__(self) -> dict[str, Any]:
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
                    _record(ctx, setting, row, "custom source", default=False)
                continue
            spec = row.spec
            if spec is not None and environment in spec.required_in:
                empty = ctx.variables(()).get(row.env.lower(), ("", "x", ""))[1] == ""
                ctx.add(
                    SettingsProblem(
                        kind="missing",
                        severity="error",
                        env_var=row.env,
                        setting=setting,
                        message=("is set but empty" if empty else "is not set") + f"; required in {environment}",
                        expected=expected_for(row),
                        hint=f"Set {row.env} (or {row.env}_FILE pointing at a secret file).",
                        description=row.description,
                    )
                )
                _record(ctx, setting, row, "missing", default=True)
                continue
            if spec is not None and environment in spec.defaults:
                _state_set(out, row.path, spec.defaults[environment])
                _record(ctx, setting, row, f"profile default ({environment})", default=True)
                continue
            if not row.info.is_required():
                _record(ctx, setting, row, "default", default=True)
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


# --- validation errors, without values ----------------------------------------------

_EXPECTED: Final[dict[str, str]] = {
    "bool": "true or false (also 1/0, yes/no, on/off)",
    "int": "an integer",
    "float": "a number",
    "str": "text",
    "SecretStr": "a secret string",
    "SecretBytes": "a secret value",
    "ByteSize": "a size in bytes, optionally with a unit (10MiB, 500KB)",
}


def expected_for(row: FieldRow) -> str:
    """Describe what a valid value for ``row`` looks like (from its type only)."""
    ann = _unwrap(row.info.annotation)
    if typing.get_origin(ann) is Literal:
        return "one of: " + ", ".join(str(arg) for arg in typing.get_args(ann))
    if row.kind == "seq":
        return "a JSON list or comma-separated values"
    if row.kind in ("map", "model"):
        return "a JSON object"
    name = getattr(ann, "__name__", "")
    return _EXPECTED.get(name, name or "a valid value")


_SAFE_TYPES_WITH_CUSTOM_MSG: Final = frozenset({"value_error", "assertion_error"})


def validation_problems(cls: type[BaseModel], exc: ValidationError, ctx: LoadContext) -> list[SettingsProblem]:
    """Turn a pydantic ``ValidationError`` into report entries that hold no value.

    Only error *types* and field metadata are used; messages written by custom
    validators are kept for non-secret fields after every input value is cut out.
    """
    problems = []
    for error in exc.errors(include_url=False):
        env, setting, row = locate(cls, error["loc"])
        full = setting
        provenance = ctx.provenance.get(full)
        source = provenance.source if provenance else ""
        if error["type"] == "missing":
            problems.append(
                SettingsProblem(
                    kind="missing",
                    severity="error",
                    env_var=env,
                    setting=full,
                    message="is required but not set",
                    expected=expected_for(row) if row else "",
                    hint=f"Set {env}.",
                    description=row.description if row else "",
                )
            )
            continue
        message = _safe_message(error, secret=bool(row and (row.secret or is_sensitive_key(row.path[-1]))))
        across_fields = row is not None and row.kind == "model" and error["type"] in _SAFE_TYPES_WITH_CUSTOM_MSG
        hint = f"Fix the {full}.* settings the message names." if across_fields else _hint(error.get("input"), env)
        problems.append(
            SettingsProblem(
                kind="invalid",
                severity="error",
                env_var=env,
                setting=full,
                message=message,
                # a model validator's error is about its fields together, not one JSON object
                expected="" if across_fields else (expected_for(row) if row else ""),
                hint=hint,
                description=row.description if row else "",
                source=source,
            )
        )
    return problems


def _safe_message(error: Any, *, secret: bool) -> str:
    msg = str(error.get("msg", "is invalid"))
    if error["type"] not in _SAFE_TYPES_WITH_CUSTOM_MSG:
        return msg
    if secret:
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, SafeValueError):
            return redact_text(msg.removeprefix("Value error, "))
        return "was rejected by the field's validator"
    for item in sorted(set(_strings(error.get("input"))), key=len, reverse=True):
        if len(item) >= 3:
            msg = msg.replace(repr(item), "<value>")
            # bare: not inside a longer word or a dotted name ('health.token' stays readable)
            msg = re.sub(rf"(?<![\w.]){re.escape(item)}(?!\w)", "<value>", msg)
    return redact_text(msg)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, (str, int, float)):
        yield str(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _strings(item)


def _hint(value: Any, env: str) -> str:
    if isinstance(value, str):
        if value != value.strip():
            return f"Check {env}: the value has surrounding whitespace."
        if value[:1] in ("'", '"') and value[-1:] == value[:1]:
            return f"Check {env}: the value is wrapped in quotes."
    return f"Fix {env} to match the expected form."


# --- the base class -----------------------------------------------------------------


class SettingsBase(BaseSettings):
    """Base of :class:`~hardening.HardeningSettings` and :class:`~hardening.AppSettings`.

    Building it directly (``Settings()``) validates without running production rules
    and raises :class:`~hardening.ConfigurationError` (carrying a
    :class:`~hardening.SettingsReport`, never a value) when something is missing or
    invalid; :func:`hardening.load_settings` also runs the production rules.
    """

    model_config = SettingsConfigDict(
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
        use_attribute_docstrings=True,
        validate_default=True,
    )

    def __init__(self, /, **values: Any) -> None:
        if _CONTEXT.get() is not None:
            super().__init__(**values)
            return
        ctx = LoadContext()
        ctx.setup(type(self))
        report = _run(type(self), ctx, lambda: super(SettingsBase, self).__init__(**values))
        if report is not None:
            raise ConfigurationError(_failure_message(report), report=report) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Use ``hardening``'s sources: init > env/files > extra sources > profiles."""
        env_files = _as_paths(getattr(dotenv_settings, "env_file", None))
        secrets_dirs = _as_paths(getattr(file_secret_settings, "secrets_dir", None))
        return (
            init_settings,
            EnvSource(settings_cls, env_files, secrets_dirs),
            *cls.extra_sources(settings_cls),
            ProfileSource(settings_cls),
        )

    @classmethod
    def extra_sources(cls, settings_cls: type[BaseSettings]) -> tuple[PydanticBaseSettingsSource, ...]:
        """Override to add sources such as cloud secret managers (below env and files).

        Example: ``return (AWSSecretsManagerSettingsSource(settings_cls, "prod/app"),)``.
        """
        return ()


def _run(cls: type[BaseModel], ctx: LoadContext, build: typing.Callable[[], Any]) -> SettingsReport | None:
    """Build inside ``ctx``; return a report when it failed (errors only), else ``None``."""
    token = _CONTEXT.set(ctx)
    try:
        try:
            build()
        except ValidationError as exc:
            ctx.problems.extend(validation_problems(cls, exc, ctx))
        except (ConfigurationError, TypeError, ValueError, KeyError, AttributeError) as exc:
            ctx.add(
                SettingsProblem(
                    kind="invalid",
                    severity="error",
                    env_var="",
                    setting="(settings)",
                    message=f"building the settings raised {type(exc).__name__}",
                    hint="Check custom validators and sources of the settings class.",
                )
            )
    finally:
        _CONTEXT.reset(token)
    if any(p.kind in ("missing", "invalid") for p in ctx.problems):
        return SettingsReport(cls.__name__, ctx.environment or "production", tuple(ctx.problems))
    return None


def _failure_message(report: SettingsReport) -> str:
    return f"Invalid configuration.\n{report.text()}"
