"""``hardening``: make an ASGI service safe to launch.

Wrap any ASGI app with :func:`harden`, configured by :class:`HardeningSettings`::

    from hardening import harden, HardeningSettings

    app = harden(app, HardeningSettings(environment="production"))

Importing this package imports no optional dependency and has no side effect; each public
name is imported on first use (a module ``__getattr__``), so ``import hardening`` is cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

from hardening._version import __version__

if TYPE_CHECKING:
    from hardening._compose import LAYER_ORDER, build_layer, configure_logging, harden, init_sentry, middleware_list
    from hardening._context import LayerContext
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

_LAZY: Final[dict[str, str]] = {
    "LAYER_ORDER": "hardening._compose",
    "build_layer": "hardening._compose",
    "configure_logging": "hardening._compose",
    "harden": "hardening._compose",
    "init_sentry": "hardening._compose",
    "middleware_list": "hardening._compose",
    "LayerContext": "hardening._context",
    "BodyLimitConfig": "hardening.bodylimit",
    "BodyLimitMiddleware": "hardening.bodylimit",
    "ClientResolver": "hardening.clientip",
    "ProxyConfig": "hardening.clientip",
    "CORSConfig": "hardening.cors",
    "CORSMiddleware": "hardening.cors",
    "CORSRule": "hardening.cors",
    "CSRFConfig": "hardening.csrf",
    "CSRFMiddleware": "hardening.csrf",
    "ErrorGuardConfig": "hardening.errorguard",
    "ErrorGuardMiddleware": "hardening.errorguard",
    "ConfigurationError": "hardening.errors",
    "HardeningError": "hardening.errors",
    "MissingDependencyError": "hardening.errors",
    "HeaderProfile": "hardening.headers",
    "SecurityHeadersConfig": "hardening.headers",
    "SecurityHeadersMiddleware": "hardening.headers",
    "csp_nonce": "hardening.headers",
    "CheckResult": "hardening.health",
    "HealthConfig": "hardening.health",
    "HealthMiddleware": "hardening.health",
    "HealthRegistry": "hardening.health",
    "TrustedHostConfig": "hardening.hosts",
    "TrustedHostMiddleware": "hardening.hosts",
    "HTTPSRedirectConfig": "hardening.httpsredirect",
    "HTTPSRedirectMiddleware": "hardening.httpsredirect",
    "AccessLogConfig": "hardening.logs",
    "AccessLogMiddleware": "hardening.logs",
    "LoggingConfig": "hardening.logs",
    "RequestIdConfig": "hardening.logs",
    "RequestIdMiddleware": "hardening.logs",
    "get_request_id": "hardening.logs",
    "SentryConfig": "hardening.monitoring",
    "TracingConfig": "hardening.monitoring",
    "TracingMiddleware": "hardening.monitoring",
    "PoolBudget": "hardening.pool",
    "PoolConfig": "hardening.pool",
    "PoolRecommendation": "hardening.pool",
    "PoolStats": "hardening.pool",
    "pool_stats": "hardening.pool",
    "recommend_pool_size": "hardening.pool",
    "verify_budget": "hardening.pool",
    "Problem": "hardening.problems",
    "ProblemError": "hardening.problems",
    "ProblemResponse": "hardening.problems",
    "RateLimitConfig": "hardening.ratelimit",
    "RateLimitDependency": "hardening.ratelimit",
    "RateLimiter": "hardening.ratelimit",
    "RateLimitExceeded": "hardening.ratelimit",
    "RateLimitMiddleware": "hardening.ratelimit",
    "RateLimitRule": "hardening.ratelimit",
    "rate_limit": "hardening.ratelimit",
    "check_settings": "hardening.settings.loader",
    "env_example": "hardening.settings.loader",
    "explain": "hardening.settings.loader",
    "load_settings": "hardening.settings.loader",
    "AppSettings": "hardening.settings.models",
    "HardeningSettings": "hardening.settings.models",
    "SettingsReport": "hardening.settings.report",
    "setting": "hardening.settings.spec",
    "install_problem_handlers": "hardening.validation",
    "parse_body": "hardening.validation",
    "parse_path": "hardening.validation",
    "parse_query": "hardening.validation",
    "validate": "hardening.validation",
}
"""Each public name and the module that defines it, imported on first use (PEP 562)."""


def __getattr__(name: str) -> Any:
    """Import the module behind a public name the first time the name is used.

    ``import hardening`` then costs little (a CLI call, a worker's start), and
    ``from hardening import harden`` imports only what ``harden`` needs.
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hardening' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
