"""``SettingsBase``: pydantic-settings with ``hardening``'s sources and problem reports."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from hardening.errors import ConfigurationError
from hardening.settings.context import CURRENT, LoadContext, as_paths
from hardening.settings.messages import validation_problems
from hardening.settings.report import SettingsProblem, SettingsReport
from hardening.settings.sources import EnvironmentDefaultsSource, EnvSource

__all__ = ("SettingsBase", "build_collecting")


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
        if CURRENT.get() is not None:
            super().__init__(**values)
            return
        ctx = LoadContext()
        ctx.setup(type(self))
        report = build_collecting(type(self), ctx, lambda: super(SettingsBase, self).__init__(**values))
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
        """Use ``hardening``'s sources: init > env/files > extra sources > per-environment defaults."""
        env_files = as_paths(getattr(dotenv_settings, "env_file", None))
        secrets_dirs = as_paths(getattr(file_secret_settings, "secrets_dir", None))
        return (
            init_settings,
            EnvSource(settings_cls, env_files, secrets_dirs),
            *cls.extra_sources(settings_cls),
            EnvironmentDefaultsSource(settings_cls),
        )

    @classmethod
    def extra_sources(cls, settings_cls: type[BaseSettings]) -> tuple[PydanticBaseSettingsSource, ...]:
        """Override to add sources such as cloud secret managers (below env and files).

        Example: ``return (AWSSecretsManagerSettingsSource(settings_cls, "prod/app"),)``.
        """
        return ()


def build_collecting(cls: type[BaseModel], ctx: LoadContext, build: typing.Callable[[], Any]) -> SettingsReport | None:
    """Build inside ``ctx``; return a report when it failed (errors only), else ``None``."""
    token = CURRENT.set(ctx)
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
        CURRENT.reset(token)
    if any(p.kind in ("missing", "invalid") for p in ctx.problems):
        return SettingsReport(cls.__name__, ctx.environment or "production", tuple(ctx.problems))
    return None


def _failure_message(report: SettingsReport) -> str:
    return f"Invalid configuration.\n{report.text()}"
