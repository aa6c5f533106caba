"""AIOM's settings: its own variables next to ``hardening``'s, loaded with the fail-fast report.

Every variable is read without a prefix (``DATABASE_URL``, ``REDIS_URL``, ...); the
library's settings come from ``HARDENING_*``. :func:`load` returns the settings or
raises :class:`hardening.ConfigurationError` listing every problem at once, without any
value. :func:`effective_hardening` folds the service's variables into the library's
settings (``REDIS_URL`` becomes the rate-limit store, ``SENTRY_DSN`` the Sentry DSN).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator

from hardening import AppSettings, HardeningSettings, load_settings, setting

__all__ = ["AIOMSettings", "async_database_url", "effective_hardening", "load", "redis_storage_uri"]

DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{Path(tempfile.gettempdir()) / 'aiom-dev.sqlite3'}"


class AIOMSettings(AppSettings):
    """The AIOM service's configuration (read from the environment or a ``.env`` file)."""

    database_url: SecretStr = setting(
        SecretStr(DEFAULT_DATABASE_URL),
        required_in=("production", "staging"),
        description="Database: postgresql://user:password@host:5432/db, or sqlite+aiosqlite:///path.",
        example="postgresql://aiom@127.0.0.1:5432/aiom",
    )
    redis_url: SecretStr | None = None
    """Redis for rate-limit counters shared by every worker, e.g. ``redis://127.0.0.1:6379/0``.
    Unset: counters live in each process."""
    anthropic_api_key: SecretStr | None = None
    """Anthropic API key. Unset: the AI endpoint uses the offline stand-in summarizer."""
    anthropic_base_url: str = "https://api.anthropic.com"
    """Base URL of the Anthropic Messages API."""
    anthropic_model: str = "claude-3-5-haiku-latest"
    """The model asked for summaries."""
    ai_max_tokens: int = Field(default=300, ge=16, le=4096)
    """The most output tokens one summary may use."""
    ai_timeout: float = Field(default=20.0, gt=0, le=120)
    """Seconds one call to the AI provider may take."""
    ai_input_usd_per_mtok: float = Field(default=0.80, ge=0)
    """Price of one million input tokens, in US dollars (for cost tracking)."""
    ai_output_usd_per_mtok: float = Field(default=4.00, ge=0)
    """Price of one million output tokens, in US dollars."""
    ai_daily_budget_usd: float = Field(default=5.0, ge=0)
    """Once today's AI spend reaches this, the AI endpoint answers 429 until tomorrow (UTC)."""
    ai_rate_limit: str = "5/minute;50/day"
    """The AI endpoint's own limit per client, much stricter than the rest of the API."""
    odoo_url: str | None = None
    """Base URL of the Odoo ERP (JSON-RPC at ``/jsonrpc``). Unset: ERP sync is off."""
    odoo_health_path: str = "/web/health"
    """Path of the ERP's health endpoint, probed by ``/health``."""
    erp_timeout: float = Field(default=10.0, gt=0, le=120)
    """Seconds one ERP call may take."""
    sentry_dsn: SecretStr | None = None
    """Sentry DSN for error monitoring (``HARDENING_SENTRY__DSN`` works too)."""

    @field_validator("anthropic_base_url", "odoo_url")
    @classmethod
    def _http_url(cls, value: str | None, info: Any) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            name = str(info.field_name).upper()
            msg = f"{name} must be an http:// or https:// URL, for example https://erp.example.com"
            raise ValueError(msg)
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: SecretStr) -> SecretStr:
        async_database_url(value.get_secret_value())  # raises a value-free error if unsupported
        return value


def async_database_url(url: str) -> str:
    """Return the SQLAlchemy async URL for ``url`` (asyncpg for PostgreSQL, aiosqlite for SQLite).

    Raises:
        ValueError: The scheme is neither PostgreSQL nor SQLite (the URL is not echoed).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        msg = "DATABASE_URL must be a URL such as postgresql://user@host/db or sqlite+aiosqlite:///aiom.db"
        raise ValueError(msg)
    scheme = scheme.lower()
    if scheme in {"postgres", "postgresql", "postgresql+asyncpg"}:
        return f"postgresql+asyncpg://{rest}"
    if scheme in {"sqlite", "sqlite+aiosqlite"}:
        return f"sqlite+aiosqlite://{rest}"
    msg = f"DATABASE_URL scheme {scheme!r} is not supported; use postgresql:// or sqlite+aiosqlite://"
    raise ValueError(msg)


def redis_storage_uri(redis_url: str) -> str:
    """Return the rate-limit storage URI (``async+redis://...``) for a ``redis://`` URL."""
    scheme, _, rest = redis_url.partition("://")
    return f"async+{scheme.lower()}://{rest}"


def effective_hardening(settings: AIOMSettings) -> HardeningSettings:
    """Return the library's settings with the service's variables folded in.

    ``REDIS_URL`` becomes the rate-limit store unless ``HARDENING_RATE_LIMIT__STORAGE_URI``
    already names one; ``SENTRY_DSN`` becomes the Sentry DSN unless
    ``HARDENING_SENTRY__DSN`` is set.
    """
    hardening = settings.hardening
    updates: dict[str, Any] = {}
    memory = hardening.rate_limit.storage_uri.get_secret_value().startswith("async+memory")
    if settings.redis_url is not None and memory:
        storage = SecretStr(redis_storage_uri(settings.redis_url.get_secret_value()))
        updates["rate_limit"] = hardening.rate_limit.model_copy(update={"storage_uri": storage})
    if settings.sentry_dsn is not None and hardening.sentry.dsn is None:
        updates["sentry"] = hardening.sentry.model_copy(update={"dsn": settings.sentry_dsn})
    return hardening.model_copy(update=updates) if updates else hardening


def load(environ: Mapping[str, str] | None = None, **overrides: Any) -> AIOMSettings:
    """Load and check the settings; raise :class:`hardening.ConfigurationError` with the report."""
    return load_settings(AIOMSettings, environ=environ, **overrides)
