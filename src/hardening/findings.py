"""What a production rule is: a function of the settings that yields :class:`Finding` objects.

This module sits below every capability, so each may define its rules without importing
the settings aggregate: a rule reads a :class:`RuleInput` (the environment, and every
config under its layer name). :mod:`hardening.checks` runs the rules the layer registry
(:mod:`hardening._registry`) lists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from hardening._config import env_var

__all__ = ("SEVERITY_ORDER", "Finding", "Rule", "RuleInput", "Severity", "finding")

Severity = Literal["info", "warning", "error"]
"""How serious a finding is; ``error`` stops start-up in production by default."""

SEVERITY_ORDER: Final[dict[str, int]] = {"info": 0, "warning": 1, "error": 2}
"""Severities ranked, for comparing with a fail level."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found by a production rule. Never holds a secret value.

    Attributes:
        id: The stable rule ID, for example ``"HARDENING-CORS-001"``.
        severity: ``info``, ``warning`` or ``error``.
        message: What is wrong.
        hint: How to fix it.
        setting: The dotted settings path, for example ``"cors.allow_origins"``.
        env_var: The environment variable that sets it.
    """

    id: str
    severity: Severity
    message: str
    hint: str = ""
    setting: str = ""
    env_var: str = ""


def finding(rule_id: str, severity: Severity, setting: str, message: str, hint: str) -> Finding:
    """Return a :class:`Finding` about a dotted ``setting``, naming the variable that sets it."""
    return Finding(rule_id, severity, message, hint, setting, env_var(setting))


class RuleInput(Protocol):
    """What a production rule reads: the environment, and each config by its layer name.

    :class:`hardening.HardeningSettings` is one (``settings.cors``, ``settings.proxy``,
    ...); the names are those of the layer registry.
    """

    @property
    def environment(self) -> str:
        """The environment: development, test, staging or production."""
        ...  # pragma: no cover - a protocol

    def __getattr__(self, name: str) -> Any:
        """The config registered under ``name``."""
        ...  # pragma: no cover - a protocol


Rule = Callable[[Any], Iterable[Finding]]
"""A production rule: called with a :class:`RuleInput` (the settings), yields findings."""
