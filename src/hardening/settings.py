"""``HardeningSettings``: every capability's config, loaded from the environment or code.

Each capability config nests under one field, so with the ``HARDENING_`` prefix and the
``__`` nested delimiter, ``HARDENING_RATE_LIMIT__DEFAULT_LIMITS="100/minute"`` sets
``settings.rate_limit.default_limits``. The same settings can be built in code:
``HardeningSettings(environment="development", cors=CORSConfig(...))``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hardening.bodylimit import BodyLimitConfig
from hardening.clientip import ProxyConfig
from hardening.cors import CORSConfig
from hardening.csrf import CSRFConfig
from hardening.errorguard import ErrorGuardConfig
from hardening.headers import SecurityHeadersConfig
from hardening.health import HealthConfig
from hardening.hosts import TrustedHostConfig
from hardening.httpsredirect import HTTPSRedirectConfig
from hardening.logs import AccessLogConfig, LoggingConfig, RequestIdConfig
from hardening.monitoring import SentryConfig, TracingConfig
from hardening.pool import PoolConfig
from hardening.ratelimit import RateLimitConfig

__all__ = ("Environment", "HardeningSettings")

Environment = Literal["development", "test", "staging", "production"]
"""The deployment environments ``hardening`` knows; anything else counts as production."""


class HardeningSettings(BaseSettings):
    """All of ``hardening``'s settings, one nested config per capability.

    Read from ``HARDENING_*`` environment variables (nested with ``__``), a ``.env``
    file when configured, or passed in code.
    """

    model_config = SettingsConfigDict(
        env_prefix="HARDENING_",
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
        use_attribute_docstrings=True,
        validate_default=True,
    )

    environment: Environment = "production"
    """Where the service runs; ``production`` switches on the production rules."""

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
