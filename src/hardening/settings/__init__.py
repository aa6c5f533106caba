"""Settings: every capability's config, loaded from the environment, files or code.

* :mod:`~hardening.settings.models`: :class:`HardeningSettings` and :class:`AppSettings`.
* :mod:`~hardening.settings.loader`: :func:`load_settings`, :func:`check_settings`,
  :func:`explain` and :func:`env_example`.
* :mod:`~hardening.settings.base`, :mod:`~hardening.settings.sources`,
  :mod:`~hardening.settings.context`, :mod:`~hardening.settings.fields`,
  :mod:`~hardening.settings.messages`: how values are read (environment, ``.env``,
  ``VAR_FILE``, secrets dirs) and how problems are collected without values.
* :mod:`~hardening.settings.secrets`: reading mounted secret files.
* :mod:`~hardening.settings.spec`: :func:`setting`, per-environment defaults.
* :mod:`~hardening.settings.report`: :class:`SettingsReport`.
* :mod:`~hardening.settings.rules`: the production rules about the settings themselves.

The environments themselves are defined in :mod:`hardening._environments`, below every
layer.
"""

from __future__ import annotations

from hardening._environments import Environment
from hardening.settings.loader import check_settings, env_example, explain, load_settings
from hardening.settings.models import AppSettings, HardeningSettings
from hardening.settings.report import SettingsReport
from hardening.settings.spec import setting

__all__ = (
    "AppSettings",
    "Environment",
    "HardeningSettings",
    "SettingsReport",
    "check_settings",
    "env_example",
    "explain",
    "load_settings",
    "setting",
)
