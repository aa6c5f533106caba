"""Environment profiles: where the service runs, and fields that depend on it.

``hardening`` knows four environments: ``development``, ``test``, ``staging`` and
``production``. The one source of truth is ``HARDENING_ENVIRONMENT``. A missing or
unknown value means ``production`` (fail safe, like envalid's missing ``NODE_ENV``), and
the settings report says so.

A field can declare a default per environment and the environments where it must be
set explicitly, with :func:`setting`::

    from pydantic import SecretStr
    from hardening import AppSettings, setting

    class Settings(AppSettings):
        secret_key: SecretStr = setting(
            SecretStr("dev-only-key"), required_in=("production", "staging"),
            description="Signs session cookies.",
        )
        log_format: str = setting("json", defaults={"development": "console"})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pydantic import Field
from pydantic.fields import FieldInfo

__all__ = (
    "DEPLOYED_ENVIRONMENTS",
    "ENVIRONMENTS",
    "ENVIRONMENT_VAR",
    "Environment",
    "SettingSpec",
    "normalize_environment",
    "setting",
    "setting_spec",
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


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """How a field behaves per environment; attached to the field by :func:`setting`.

    Attributes:
        defaults: A default per environment, used when no source sets the field.
        required_in: Environments where the field must be set by a source (the
            code default is not enough there).
        example: An example value for ``.env.example`` (never for secrets).
        signing_key: The field is a key the service signs or encrypts with, so the
            strength rules (length, entropy) apply to it.
    """

    defaults: Mapping[str, Any] = field(default_factory=dict)
    required_in: tuple[str, ...] = ()
    example: str | None = None
    signing_key: bool = False


def setting(
    default: Any = ...,
    *,
    defaults: Mapping[str, Any] | None = None,
    dev_default: Any = ...,
    required_in: Iterable[str] = (),
    description: str | None = None,
    example: str | None = None,
    signing_key: bool = False,
    **field_kwargs: Any,
) -> Any:
    """Declare a settings field with per-environment behaviour.

    Args:
        default: The default when no source sets the field (and no profile default
            applies). Omit it for a field required everywhere.
        defaults: A default per environment, for example ``{"development": "console"}``.
        dev_default: Shorthand for ``defaults={"development": ..., "test": ...}``.
        required_in: Environments where a source must set the field, for example
            ``("production", "staging")``.
        description: Shown in reports, ``hardening env explain`` and ``.env.example``.
        example: An example value for ``.env.example``.
        signing_key: Apply the key-strength production rules to this field.
        **field_kwargs: Passed on to :func:`pydantic.Field`.
    """
    unknown = [name for name in (*(defaults or {}), *required_in) if name not in ENVIRONMENTS]
    if unknown:
        msg = f"unknown environment name(s) {sorted(unknown)}; expected some of {list(ENVIRONMENTS)}"
        raise ValueError(msg)
    per_env = dict(defaults or {})
    if dev_default is not ...:
        per_env.setdefault("development", dev_default)
        per_env.setdefault("test", dev_default)
    info: FieldInfo = Field(default, description=description, **field_kwargs)
    info.metadata.append(
        SettingSpec(
            defaults=per_env,
            required_in=tuple(required_in),
            example=example,
            signing_key=signing_key,
        )
    )
    return info


def setting_spec(info: FieldInfo) -> SettingSpec | None:
    """Return the :class:`SettingSpec` attached to a field, if any."""
    for item in info.metadata:
        if isinstance(item, SettingSpec):
            return item
    return None
