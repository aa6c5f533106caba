from __future__ import annotations

import subprocess
import sys

import pytest

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


def test_import_is_lazy_and_every_public_name_resolves() -> None:
    """``import hardening`` loads no capability; each public name loads its module on first use."""
    code = (
        "import sys\n"
        "import hardening\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('hardening.') and m != 'hardening._version')\n"
        "assert not loaded, loaded\n"
        "from hardening import harden\n"
        "assert 'hardening._compose' in sys.modules\n"
        "assert 'hardening.audit' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stderr
    lazy = hardening._LAZY
    assert set(lazy) | {"__version__"} == set(hardening.__all__)
    for name, module in lazy.items():
        assert getattr(sys.modules.get(module) or __import__(module, fromlist=[name]), name) is getattr(hardening, name)
    assert set(dir(hardening)) >= set(hardening.__all__)


def test_type_checking_imports_match_the_lazy_table() -> None:
    """The names mypy sees (the ``TYPE_CHECKING`` block) are the names ``__getattr__`` serves."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(hardening.__file__).read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If))
    seen = {alias.name: node.module for node in block.body if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert seen == hardening._LAZY
    with pytest.raises(AttributeError, match="no_such_name"):
        hardening.no_such_name  # noqa: B018
