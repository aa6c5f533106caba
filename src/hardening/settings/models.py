"""``HardeningSettings``: every capability's config, loaded from the environment or code.

Each capability config nests under one field, so with the ``HARDENING_`` prefix and the
``__`` nested delimiter, ``HARDENING_RATE_LIMIT__DEFAULT_LIMITS="100/minute"`` sets
``settings.rate_limit.default_limits``. The same settings can be built in code:
``HardeningSettings(environment="development", cors=CORSConfig(...))``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from hardening._config import ENV_PREFIX
from hardening._environments import Environment, normalize_environment
from hardening.bodylimit import BodyLimitConfig
from hardening.clientip import ProxyConfig
from hardening.cors import CORSConfig
from hardening.csrf import CSRFConfig
from hardening.errorguard import ErrorGuardConfig
from hardening.findings import Rule
from hardening.headers import SecurityHeadersConfig
from hardening.health import HealthConfig
from hardening.hosts import TrustedHostConfig
from hardening.httpsredirect import HTTPSRedirectConfig
from hardening.logs import AccessLogConfig, LoggingConfig, RequestIdConfig
from hardening.monitoring import SentryConfig, TracingConfig
from hardening.pool import PoolConfig
from hardening.ratelimit import RateLimitConfig
from hardening.settings.base import SettingsBase
from hardening.settings.rules import CHECKS

__all__ = ("AppSettings", "Environment", "HardeningSettings")


class HardeningSettings(SettingsBase):
    """All of ``hardening``'s settings, one nested config per capability.

    Read from ``HARDENING_*`` environment variables (nested with ``__``), a ``.env``
    file when configured, or passed in code.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX)

    rules: ClassVar[tuple[Rule, ...]] = CHECKS
    """The rules about the settings themselves (debug mode, weak secrets), which walk
    every field; each config's own rules are listed by the layer registry."""

    environment: Environment = "production"
    """Where the service runs: development, test, staging or production. Missing or
    unknown means production (the report says so); production and staging run the
    production rules."""

    silenced_checks: tuple[str, ...] = ()
    """Production-rule IDs to silence, for example ``HARDENING-SET-007`` (comma-separated
    or a JSON list in the environment)."""

    proxy: ProxyConfig = Field(default_factory=ProxyConfig)
    """Trusted proxies: how the client address and scheme are resolved."""
    request_id: RequestIdConfig = Field(default_factory=RequestIdConfig)
    """Request IDs (outermost layer)."""
    access_log: AccessLogConfig = Field(default_factory=AccessLogConfig)
    """One structured access-log line per request."""
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    """Structured logging set-up."""
    errors: ErrorGuardConfig = Field(default_factory=ErrorGuardConfig)
    """The error guard: exceptions become problem+json 500s."""
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    """OpenTelemetry server spans and metrics."""
    sentry: SentryConfig = Field(default_factory=SentryConfig)
    """Sentry error monitoring."""
    health: HealthConfig = Field(default_factory=HealthConfig)
    """Health endpoints for monitoring and Kubernetes probes."""
    headers: SecurityHeadersConfig = Field(default_factory=SecurityHeadersConfig)
    """Security headers."""
    hosts: TrustedHostConfig = Field(default_factory=TrustedHostConfig)
    """Trusted hosts."""
    https_redirect: HTTPSRedirectConfig = Field(default_factory=HTTPSRedirectConfig)
    """Redirect plain HTTP to HTTPS."""
    cors: CORSConfig = Field(default_factory=CORSConfig)
    """Cross-origin resource sharing."""
    csrf: CSRFConfig = Field(default_factory=CSRFConfig)
    """Token-less CSRF protection."""
    body_limit: BodyLimitConfig = Field(default_factory=BodyLimitConfig)
    """Request body size limit."""
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    """Rate limiting."""
    pool: PoolConfig = Field(default_factory=PoolConfig)
    """Database pool sizing, validated against the connection budget."""

    @field_validator("environment", mode="before")
    @classmethod
    def _known_environment(cls, value: Any) -> Environment:
        """Map aliases (``prod``, ``dev``, ...) and unknown values; unknown is production."""
        return normalize_environment(value)[0]


class AppSettings(SettingsBase):
    """Base class for an application's own settings, next to ``hardening``'s.

    Declare the service's variables as fields; they are read without a prefix (set
    ``env_prefix`` in ``model_config`` to add one). The library's settings live in
    :attr:`hardening`, read from ``HARDENING_*`` variables::

        from pydantic import SecretStr
        from hardening import AppSettings, load_settings, setting

        class Settings(AppSettings):
            database_url: SecretStr = setting(
                SecretStr("postgresql://localhost/dev"), required_in=("production", "staging")
            )
            anthropic_api_key: SecretStr | None = None

        settings = load_settings(Settings)   # DATABASE_URL, ANTHROPIC_API_KEY, HARDENING_*
    """

    model_config = SettingsConfigDict(env_prefix="")

    hardening: HardeningSettings = Field(default_factory=HardeningSettings)
    """``hardening``'s own settings, read from ``HARDENING_*`` variables."""

    @property
    def environment(self) -> Environment:
        """The environment, from ``HARDENING_ENVIRONMENT``."""
        return self.hardening.environment
