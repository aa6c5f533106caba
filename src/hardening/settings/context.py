"""The load context: options for one settings load, and the problems it collects.

A :class:`LoadContext` lives in a context variable (:data:`CURRENT`) while settings are
built; nested settings (``AppSettings.hardening``) share their parent's.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values
from pydantic import BaseModel

from hardening._environments import Environment
from hardening.settings.fields import field_table, unwrap
from hardening.settings.report import Provenance, SettingsProblem
from hardening.settings.secrets import DEFAULT_MAX_SECRET_FILE_SIZE

__all__ = ("CURRENT", "LoadContext", "as_paths")


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
    skip: frozenset[str] = frozenset()
    """Settings whose value failed in a first pass: read no source for them (their
    defaults stand in), so the rest can be built and judged."""
    _env_cache: dict[str, tuple[str, str, str]] | None = None

    def skips(self, setting: str) -> bool:
        """Whether ``setting`` is in :attr:`skip` or below one of its entries."""
        return any(setting == item or setting.startswith(item + ".") for item in self.skip)

    def setup(self, root: type[BaseModel]) -> None:
        """Remember the root class and where nested settings classes sit in it."""
        self.root = root
        self.prefixes = {root: ""}
        for row in field_table(root):
            if row.kind == "settings":
                self.prefixes.setdefault(unwrap(row.info.annotation), row.setting + ".")

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


CURRENT: contextvars.ContextVar[LoadContext | None] = contextvars.ContextVar("hardening_settings_load", default=None)


def as_paths(value: object) -> tuple[Path, ...]:
    """Turn pydantic-settings' ``env_file`` / ``secrets_dir`` value into paths."""
    if value is None:
        return ()
    if isinstance(value, (str, os.PathLike)):
        return (Path(value),)
    if isinstance(value, (list, tuple)):
        return tuple(Path(item) for item in value)
    return ()
