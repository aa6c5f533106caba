"""The production rules judged on what did load, when some values did not.

When a value is missing or invalid the settings cannot be built, but most production
rules do not need that value. :func:`partial_settings` builds the settings again with
the failed settings left at their defaults, and :func:`judge` runs every rule on them:

* a rule that read none of the failed settings keeps its findings;
* a rule that read one of them (its reads are recorded) is listed as *not evaluated*,
  naming the setting, since it would have judged a default instead of the real value;
* the rules that walk every field (debug mode, weak secrets) run on the fields that
  loaded: their findings about a failed field are dropped.

So one start reports every problem: the missing and invalid values, and every rule
that can be judged on the rest.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from pydantic import BaseModel

from hardening.findings import Finding, Rule
from hardening.settings.base import build_collecting
from hardening.settings.context import LoadContext
from hardening.settings.report import SettingsProblem

__all__ = ("Failed", "covers", "failed_settings", "judge", "partial_settings")

Failed = Mapping[str, str]
"""``{dotted setting: environment variable}`` of the values that did not load."""

_RULE_ID: Final = re.compile(r"HARDENING-[A-Z]+-\d{3}")
_EVERYWHERE: Final = "*"
_MODEL_API: Final = frozenset(dir(BaseModel))


def failed_settings(problems: Iterable[SettingsProblem], prefix: str = "") -> dict[str, str]:
    """The settings (below ``prefix``, which is cut off) whose value is missing or invalid."""
    failed: dict[str, str] = {}
    for problem in problems:
        if problem.kind not in ("missing", "invalid") or not problem.setting.startswith(prefix):
            continue
        setting = re.split(r"[\[]", problem.setting.removeprefix(prefix), maxsplit=1)[0]
        failed.setdefault(setting or _EVERYWHERE, problem.env_var)
    return failed


def partial_settings(cls: type[BaseModel], ctx: LoadContext, overrides: Mapping[str, Any], failed: Failed) -> Any:
    """Build ``cls`` again with the ``failed`` settings at their defaults; ``None`` if it fails too."""
    if _EVERYWHERE in failed:
        return None
    again = dataclasses.replace(
        ctx, problems=[], provenance={}, prefixes={}, root=None, environment=None, skip=frozenset(failed)
    )
    again.setup(cls)
    kept = _without(overrides, failed)
    built: list[Any] = []
    # what this pass reports again is about the skipped settings; a build that succeeded will do
    build_collecting(cls, again, lambda: built.append(cls(**kept)))
    return built[0] if built else None


def _without(values: Mapping[str, Any], failed: Failed, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = prefix + key
        if name in failed:
            continue
        if isinstance(value, Mapping):
            out[key] = _without(value, failed, name + ".")
        elif not any(item.startswith(name + ".") for item in failed):
            out[key] = value  # a model given in code that holds a failed value is left out whole
    return out


def judge(
    settings: Any, rules: Iterable[Rule], per_field: Iterable[Rule], failed: Failed
) -> tuple[list[Finding], list[SettingsProblem]]:
    """Run ``rules`` on partial ``settings``; return their findings and the not-evaluated notes.

    Args:
        settings: Settings built with the ``failed`` values at their defaults.
        rules: The rules to run; those that read a failed setting are not evaluated.
        per_field: Rules that judge each field alone: their findings about a failed
            setting are dropped, the rest kept.
        failed: The settings that did not load, with their variables.
    """
    findings: list[Finding] = []
    notes: list[SettingsProblem] = []
    walkers = tuple(per_field)
    for rule in rules:
        if rule in walkers:
            findings.extend(f for f in rule(settings) if not covers(failed, f.setting))
            continue
        reads: set[str] = set()
        try:
            found = list(rule(_Reads(settings, "", reads)))
        except (AttributeError, TypeError, ValueError):  # it needed more than reading fields
            found, reads = [], {_EVERYWHERE}
        needed = sorted({item for item in failed if _touches(reads, item)})
        if not needed:
            findings.extend(found)
            continue
        notes.append(_not_evaluated(rule, needed[0], failed[needed[0]], needed[1:]))
    return findings, notes


def covers(failed: Failed, setting: str) -> bool:
    """Whether ``setting`` is one of the ``failed`` settings or below one."""
    return any(setting == item or setting.startswith(item + ".") for item in failed)


def _touches(reads: set[str], failed: str) -> bool:
    """Whether a rule that read ``reads`` depends on the ``failed`` setting."""
    if _EVERYWHERE in reads:
        return True
    return any(read == failed or failed.startswith(read + ".") or read.startswith(failed + ".") for read in reads)


def _not_evaluated(rule: Rule, setting: str, env: str, others: list[str]) -> SettingsProblem:
    from hardening import _registry

    name = getattr(rule, "__name__", "rule").strip("_")
    layer = next((entry.name for entry in _registry.all_entries() if rule in entry.rules), "")
    ids = sorted(set(_RULE_ID.findall(getattr(rule, "__doc__", None) or "")))
    label = name + (f" of the {layer} layer" if layer else "") + (f" ({', '.join(ids)})" if ids else "")
    also = f" (and {', '.join(others)})" if others else ""
    return SettingsProblem(
        kind="note",
        severity="warning",
        env_var=env,
        setting=setting,
        message=f"production rule {label} not evaluated: it reads this setting{also}, which did not load",
        hint="Fix the value above; the next start runs this rule.",
    )


class _Reads:
    """A read-only view of settings that records which settings a rule reads."""

    __slots__ = ("_path", "_reads", "_target")

    def __init__(self, target: Any, path: str, reads: set[str]) -> None:
        self._target = target
        self._path = path
        self._reads = reads

    @property  # type: ignore[misc]  # isinstance() checks see the settings' own class
    def __class__(self) -> type:
        return type(self._target)

    def __getattr__(self, name: str) -> Any:
        target = self._target
        value = getattr(target, name)
        fields = type(target).model_fields if isinstance(target, BaseModel) else {}
        path = f"{self._path}.{name}" if self._path else name
        if name in fields:
            if isinstance(value, BaseModel):
                return _Reads(value, path, self._reads)
            self._reads.add(path)
            return value
        own = inspect.getattr_static(type(target), name, None) if name not in _MODEL_API else None
        if isinstance(own, property) and own.fget is not None:
            return own.fget(self)  # the config's own property: its reads are recorded too
        if inspect.isfunction(own):
            return functools.partial(own, self)  # the config's own method, likewise
        # pydantic's API (model_dump, ...) or anything else reads all of the model
        self._reads.add(self._path or _EVERYWHERE)
        return value

    def __iter__(self) -> Iterator[Any]:
        self._reads.add(self._path or _EVERYWHERE)
        return iter(self._target)
