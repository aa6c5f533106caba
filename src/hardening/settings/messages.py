"""Validation errors turned into settings problems that hold no value.

Validators describe what is wrong with a value; this module adds which setting and
which variable it is (from :func:`~hardening.settings.fields.locate`) and cuts every
input value out of the message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from hardening.errors import SafeValueError
from hardening.redaction import is_sensitive_key, redact_text
from hardening.settings.context import LoadContext
from hardening.settings.fields import FieldRow, expected_for, locate, unwrap
from hardening.settings.report import SettingsProblem

__all__ = ("validation_problems",)

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
        across_fields = row is not None and row.kind == "model" and error["type"] in _SAFE_TYPES_WITH_CUSTOM_MSG
        # a model validator names its fields by their own names; say which settings they are
        fields = _field_labels(row, full) if across_fields and row is not None else {}
        if row is not None and row.env + "__" in str(error.get("msg", "")):
            fields = {}  # the message names its variables itself (a start-up check's message)
        message = _safe_message(
            error, secret=bool(row and (row.secret or is_sensitive_key(row.path[-1]))), fields=fields
        )
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


def _field_labels(row: FieldRow, setting: str) -> dict[str, tuple[str, str]]:
    """``{field name: (dotted setting, variable)}`` for the fields of the model at ``row``."""
    model: type[BaseModel] = unwrap(row.info.annotation)
    return {name: (f"{setting}.{name}", f"{row.env}__{name.upper()}") for name in model.model_fields}


def _safe_message(error: Any, *, secret: bool, fields: Mapping[str, tuple[str, str]]) -> str:
    msg = str(error.get("msg", "is invalid"))
    if error["type"] not in _SAFE_TYPES_WITH_CUSTOM_MSG:
        return msg
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if secret:
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, SafeValueError):
            return redact_text(msg)
        return "was rejected by the field's validator"
    marks: dict[str, tuple[str, str]] = {}

    def _mark(match: re.Match[str]) -> str:
        # a dotted path below the field ("api.csp", "reporting.endpoint") names a nested setting
        setting, env = fields[match[1]]
        tail = match[2]
        label = (setting + tail, env + tail.upper().replace(".", "__"))
        mark = next((key for key, value in marks.items() if value == label), f"\x00{len(marks)}\x00")
        marks[mark] = label
        return mark

    for name in sorted(fields, key=len, reverse=True):
        msg = re.sub(rf"(?<![\w.'\"])({re.escape(name)})((?:\.[A-Za-z_]\w*)*)(?![\w'\"])", _mark, msg)
    for item in sorted(set(_strings(error.get("input"))), key=len, reverse=True):
        if len(item) >= 3:
            msg = msg.replace(repr(item), "<value>")
            # bare: not inside a longer word or a dotted name ('health.token' stays readable)
            msg = re.sub(rf"(?<![\w.]){re.escape(item)}(?!\w)", "<value>", msg)
    for mark, (setting, env) in marks.items():
        # the first mention names the variable too; later ones the setting alone
        msg = msg.replace(mark, f"{setting} ({env})", 1).replace(mark, setting)
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
