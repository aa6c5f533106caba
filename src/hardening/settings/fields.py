"""Field tables: every settings field with its environment variable and kind.

:func:`field_table` flattens a settings class (nested models included) into
:class:`FieldRow` entries; :func:`locate` maps a pydantic error location back to the
field and its variable, so the loader can name both in every problem.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, Literal

from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from hardening.redaction import is_sensitive_key
from hardening.settings.spec import SettingSpec, setting_spec

__all__ = ("FieldRow", "Kind", "all_rows", "env_prefix", "expected_for", "field_table", "locate", "unwrap", "value_at")


Kind = Literal["model", "settings", "seq", "map", "scalar"]
_SEQ_ORIGINS: Final = (list, tuple, set, frozenset, Sequence, AbstractSet)
_MAP_ORIGINS: Final = (dict, Mapping)


# --- field tables -------------------------------------------------------------------


def unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``Optional`` from a field annotation."""
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
    ann = unwrap(annotation)
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


def _is_secret(name: str, info: FieldInfo, spec: SettingSpec | None) -> bool:
    """The one classification of secret fields: declared, a secret type, or text named like a secret."""
    if spec is not None and spec.secret is not None:
        return spec.secret
    extra = info.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("secret"), bool):  # Field(json_schema_extra={"secret": False})
        return bool(extra["secret"])
    ann = unwrap(info.annotation)
    if not isinstance(ann, type):
        return False
    return issubclass(ann, (SecretStr, SecretBytes)) or (issubclass(ann, (str, bytes)) and is_sensitive_key(name))


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


def env_prefix(cls: type[BaseModel]) -> tuple[str, str]:
    """Return the settings class' variable prefix and nested delimiter."""
    config = cls.model_config
    return str(config.get("env_prefix") or ""), str(config.get("env_nested_delimiter") or "__")


def _env_name(name: str, info: FieldInfo) -> tuple[str, bool]:
    alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
    return (alias, True) if alias else (name, False)


@cache
def field_table(cls: type[BaseModel]) -> tuple[FieldRow, ...]:
    """Every field of ``cls`` (nested models flattened; nested settings as one row)."""
    prefix, delimiter = env_prefix(cls) if issubclass(cls, BaseSettings) else ("", "__")
    return tuple(_rows(cls, prefix, delimiter, ()))


def _rows(cls: type[BaseModel], prefix: str, delimiter: str, path: tuple[str, ...]) -> Iterator[FieldRow]:
    for name, info in cls.model_fields.items():
        env_part, aliased = _env_name(name, info)
        env = (env_part if aliased and not path else prefix + env_part).upper()
        kind = _kind(info.annotation)
        spec = setting_spec(info)
        row = FieldRow((*path, name), env, info, kind, _is_secret(name, info, spec), spec)
        yield row
        if kind == "model":
            yield from _rows(unwrap(info.annotation), env + delimiter, delimiter, (*path, name))


def all_rows(cls: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldRow]]:
    """Every row of ``cls`` and of its nested settings classes, with its full dotted setting."""
    for row in field_table(cls):
        if row.kind == "settings":
            yield from all_rows(unwrap(row.info.annotation), f"{prefix}{row.setting}.")
        else:
            yield prefix + row.setting, row


def value_at(model: Any, path: Iterable[str]) -> Any:
    """The value at a field path of ``model`` (``("cors", "max_age")``), ``None`` where a part is missing."""
    for part in path:
        model = getattr(model, part, None)
    return model


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
            current = unwrap(row.info.annotation)
            base = (*base, *path, part)
            path = ()
            rows = {r.path: r for r in field_table(current)}
            found = None
            continue
        found = row
        path = (*path, part)
    setting = ".".join((*base, *path)) + extra
    if found is None:
        prefix, _ = env_prefix(current) if issubclass(current, BaseSettings) else ("", "")
        return (prefix.upper().rstrip("_") or "(settings)", setting or "(settings)", None)
    return (found.env, setting, found)


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
    ann = unwrap(row.info.annotation)
    if typing.get_origin(ann) is Literal:
        return "one of: " + ", ".join(str(arg) for arg in typing.get_args(ann))
    if row.kind == "seq":
        return "a JSON list or comma-separated values"
    if row.kind in ("map", "model"):
        return "a JSON object"
    name = getattr(ann, "__name__", "")
    return _EXPECTED.get(name, name or "a valid value")
