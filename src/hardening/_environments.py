"""The deployment environments, defined once for every layer.

``hardening`` knows four environments: ``development``, ``test``, ``staging`` and
``production``. The one source of truth is ``HARDENING_ENVIRONMENT``. A missing or
unknown value means ``production`` (fail safe, like envalid's missing ``NODE_ENV``), and
the settings report says so. ``staging`` and ``production`` are *deployed*: the
production rules apply there (:func:`is_deployed`).

This module imports nothing from the rest of the package, so every layer may use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

__all__ = (
    "DEPLOYED_ENVIRONMENTS",
    "ENVIRONMENTS",
    "ENVIRONMENT_VAR",
    "Environment",
    "is_deployed",
    "normalize_environment",
)

Environment = Literal["development", "test", "staging", "production"]
"""The deployment environments ``hardening`` knows; anything else counts as production."""

ENVIRONMENTS: Final[tuple[Environment, ...]] = ("development", "test", "staging", "production")
"""Every known environment, least strict first."""

DEPLOYED_ENVIRONMENTS: Final[frozenset[Environment]] = frozenset({"staging", "production"})
"""Where the production rules apply: the environments a service is deployed to."""

ENVIRONMENT_VAR: Final = "HARDENING_ENVIRONMENT"
"""The environment variable that names the environment."""

_ALIASES: Final[Mapping[str, Environment]] = {
    "dev": "development",
    "develop": "development",
    "local": "development",
    "testing": "test",
    "tests": "test",
    "ci": "test",
    "stage": "staging",
    "stg": "staging",
    "preprod": "staging",
    "prod": "production",
    "prd": "production",
    "live": "production",
}


def normalize_environment(raw: object) -> tuple[Environment, str]:
    """Map a raw environment value to a known environment.

    Returns:
        The environment and how it was found: ``"set"``, ``"alias"``, ``"missing"`` or
        ``"unknown"`` (the last two mean production).
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return "production", "missing"
    if not isinstance(raw, str):
        return "production", "unknown"
    key = raw.strip().lower()
    if key in ENVIRONMENTS:
        return key, "set"
    if key in _ALIASES:
        return _ALIASES[key], "alias"
    return "production", "unknown"


def is_deployed(environment: str) -> bool:
    """Whether ``environment`` is one a service is deployed to (the production rules apply).

    Unknown names count as deployed, like a missing environment counts as production.
    """
    return environment in DEPLOYED_ENVIRONMENTS or environment not in ENVIRONMENTS
