"""Settings fields whose default or requirement depends on the environment.

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
from typing import Any

from pydantic import Field
from pydantic.fields import FieldInfo

from hardening._environments import ENVIRONMENTS

__all__ = ("SettingSpec", "setting", "setting_spec")


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
        secret: Whether the field holds a secret; ``None``: decided by its type
            (``SecretStr``) or its name (``webhook_token``, as :func:`hardening.redaction.redact` decides).
    """

    defaults: Mapping[str, Any] = field(default_factory=dict)
    required_in: tuple[str, ...] = ()
    example: str | None = None
    signing_key: bool = False
    secret: bool | None = None


def setting(
    default: Any = ...,
    *,
    defaults: Mapping[str, Any] | None = None,
    dev_default: Any = ...,
    required_in: Iterable[str] = (),
    description: str | None = None,
    example: str | None = None,
    signing_key: bool = False,
    secret: bool | None = None,
    **field_kwargs: Any,
) -> Any:
    """Declare a settings field with per-environment behaviour.

    Args:
        default: The default when no source sets the field (and no per-environment default
            applies). Omit it for a field required everywhere.
        defaults: A default per environment, for example ``{"development": "console"}``.
        dev_default: Shorthand for ``defaults={"development": ..., "test": ...}``.
        required_in: Environments where a source must set the field, for example
            ``("production", "staging")``.
        description: Shown in reports, ``hardening env explain`` and ``.env.example``.
        example: An example value for ``.env.example``.
        signing_key: Apply the key-strength production rules to this field.
        secret: ``False`` declares a field named like a secret (``token_audience``) not
            secret; ``True`` masks any field. By default a ``SecretStr`` field, or a text
            field named like a secret, is masked everywhere and its value redacted.
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
            secret=secret,
        )
    )
    return info


def setting_spec(info: FieldInfo) -> SettingSpec | None:
    """Return the :class:`SettingSpec` attached to a field, if any."""
    for item in info.metadata:
        if isinstance(item, SettingSpec):
            return item
    return None
