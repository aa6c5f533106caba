"""``hardening``: make an ASGI service safe to launch.

Wrap any ASGI app with :func:`harden`, configured by :class:`HardeningSettings`::

    from hardening import harden, HardeningSettings

    app = harden(app, HardeningSettings(environment="production"))

Importing this package imports no optional dependency and has no side effect.
"""

from __future__ import annotations

from hardening._compose import LAYER_ORDER, build_layer, configure_logging, harden, init_sentry, middleware_list
from hardening._context import LayerContext
from hardening._version import __version__
from hardening.bodylimit import BodyLimitConfig, BodyLimitMiddleware
from hardening.clientip import ClientResolver, ProxyConfig
from hardening.cors import CORSConfig, CORSMiddleware, CORSRule
from hardening.csrf import CSRFConfig, CSRFMiddleware
from hardening.errorguard import ErrorGuardConfig, ErrorGuardMiddleware
from hardening.errors import ConfigurationError, HardeningError, MissingDependencyError
from hardening.headers import HeaderProfile, SecurityHeadersConfig, SecurityHeadersMiddleware, csp_nonce
from hardening.health import CheckResult, HealthConfig, HealthMiddleware, HealthRegistry
from hardening.hosts import TrustedHostConfig, TrustedHostMiddleware
from hardening.httpsredirect import HTTPSRedirectConfig, HTTPSRedirectMiddleware
from hardening.logs import (
    AccessLogConfig,
    AccessLogMiddleware,
    LoggingConfig,
    RequestIdConfig,
    RequestIdMiddleware,
    get_request_id,
)
from hardening.monitoring import SentryConfig, TracingConfig, TracingMiddleware
from hardening.pool import (
    PoolBudget,
    PoolConfig,
    PoolRecommendation,
    PoolStats,
    pool_stats,
    recommend_pool_size,
    verify_budget,
)
from hardening.problems import Problem, ProblemError, ProblemResponse
from hardening.ratelimit import (
    RateLimitConfig,
    RateLimitDependency,
    RateLimiter,
    RateLimitExceeded,
    RateLimitMiddleware,
    RateLimitRule,
    rate_limit,
)
from hardening.settings.loader import check_settings, env_example, explain, load_settings
from hardening.settings.models import AppSettings, HardeningSettings
from hardening.settings.report import SettingsReport
from hardening.settings.spec import setting
from hardening.validation import install_problem_handlers, parse_body, parse_path, parse_query, validate

__all__ = [
    "LAYER_ORDER",
    "AccessLogConfig",
    "AccessLogMiddleware",
    "AppSettings",
    "BodyLimitConfig",
    "BodyLimitMiddleware",
    "CORSConfig",
    "CORSMiddleware",
    "CORSRule",
    "CSRFConfig",
    "CSRFMiddleware",
    "CheckResult",
    "ClientResolver",
    "ConfigurationError",
    "ErrorGuardConfig",
    "ErrorGuardMiddleware",
    "HTTPSRedirectConfig",
    "HTTPSRedirectMiddleware",
    "HardeningError",
    "HardeningSettings",
    "HeaderProfile",
    "HealthConfig",
    "HealthMiddleware",
    "HealthRegistry",
    "LayerContext",
    "LoggingConfig",
    "MissingDependencyError",
    "PoolBudget",
    "PoolConfig",
    "PoolRecommendation",
    "PoolStats",
    "Problem",
    "ProblemError",
    "ProblemResponse",
    "ProxyConfig",
    "RateLimitConfig",
    "RateLimitDependency",
    "RateLimitExceeded",
    "RateLimitMiddleware",
    "RateLimitRule",
    "RateLimiter",
    "RequestIdConfig",
    "RequestIdMiddleware",
    "SecurityHeadersConfig",
    "SecurityHeadersMiddleware",
    "SentryConfig",
    "SettingsReport",
    "TracingConfig",
    "TracingMiddleware",
    "TrustedHostConfig",
    "TrustedHostMiddleware",
    "__version__",
    "build_layer",
    "check_settings",
    "configure_logging",
    "csp_nonce",
    "env_example",
    "explain",
    "get_request_id",
    "harden",
    "init_sentry",
    "install_problem_handlers",
    "load_settings",
    "middleware_list",
    "parse_body",
    "parse_path",
    "parse_query",
    "pool_stats",
    "rate_limit",
    "recommend_pool_size",
    "setting",
    "validate",
    "verify_budget",
]
