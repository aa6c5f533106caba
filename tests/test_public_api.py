from __future__ import annotations

import subprocess
import sys

import hardening

EXPECTED_ALL = {
    "ClientResolver",
    "ProxyConfig",
    "RateLimitConfig",
    "RateLimitDependency",
    "RateLimitExceeded",
    "RateLimitMiddleware",
    "RateLimitRule",
    "RateLimiter",
    "rate_limit",
    "LAYER_ORDER",
    "LayerContext",
    "build_layer",
    "AccessLogConfig",
    "AccessLogMiddleware",
    "LoggingConfig",
    "RequestIdConfig",
    "RequestIdMiddleware",
    "SentryConfig",
    "TracingConfig",
    "TracingMiddleware",
    "configure_logging",
    "get_request_id",
    "init_sentry",
    "CORSConfig",
    "CORSMiddleware",
    "CORSRule",
    "CSRFConfig",
    "CSRFMiddleware",
    "HTTPSRedirectConfig",
    "HTTPSRedirectMiddleware",
    "TrustedHostConfig",
    "TrustedHostMiddleware",
    "AppSettings",
    "ConfigurationError",
    "HardeningError",
    "HardeningSettings",
    "CheckResult",
    "HealthConfig",
    "HealthMiddleware",
    "HealthRegistry",
    "HeaderProfile",
    "SecurityHeadersConfig",
    "SecurityHeadersMiddleware",
    "csp_nonce",
    "MissingDependencyError",
    "PoolBudget",
    "PoolConfig",
    "PoolRecommendation",
    "PoolStats",
    "pool_stats",
    "recommend_pool_size",
    "verify_budget",
    "Problem",
    "ProblemResponse",
    "ProblemError",
    "ErrorGuardConfig",
    "ErrorGuardMiddleware",
    "BodyLimitConfig",
    "BodyLimitMiddleware",
    "install_problem_handlers",
    "validate",
    "parse_body",
    "parse_query",
    "parse_path",
    "SettingsReport",
    "__version__",
    "check_settings",
    "env_example",
    "explain",
    "harden",
    "load_settings",
    "middleware_list",
    "setting",
}

OPTIONAL_MODULES = (
    "limits",
    "secure",
    "structlog",
    "sentry_sdk",
    "opentelemetry",
    "redis",
    "sqlalchemy",
    "asyncpg",
    "psycopg",
    "orjson",
)


def test_public_all_is_pinned() -> None:
    """The public API is exactly what we meant to export."""
    assert set(hardening.__all__) == EXPECTED_ALL
    for name in hardening.__all__:
        assert hasattr(hardening, name)


def test_import_has_no_optional_dependency_and_no_side_effect() -> None:
    """Importing hardening imports no extra, adds no logging handler and reads no env."""
    code = (
        "import logging, sys, os\n"
        "before = list(logging.getLogger().handlers)\n"
        "import hardening, hardening.settings, hardening.cli\n"
        f"bad = [m for m in {OPTIONAL_MODULES!r} if m in sys.modules]\n"
        "assert not bad, bad\n"
        "assert logging.getLogger().handlers == before\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stderr
