"""Issue 19, probe paths: the host check and the rate limiter exempt exactly what the
health layer answers itself (its paths, with or without a trailing slash), never a
sub-path the app serves behind a catch-all route."""

from __future__ import annotations

import pytest

from hardening._paths import HEALTH_PROBE_PATHS, ProbePaths
from hardening.health.config import HealthConfig
from hardening.hosts import TrustedHostConfig, TrustedHostMiddleware
from hardening.ratelimit import RateLimitConfig, RateLimitMiddleware
from tests.asgi_call import answering, call, http_scope

pytestmark = pytest.mark.anyio


def evil(path: str) -> list[tuple[bytes, bytes]]:
    return [(b"host", b"evil.com")]


@pytest.mark.parametrize(("path", "status"), [("/health", 200), ("/health/", 200), ("/health/reset", 400)])
async def test_host_check_exempts_only_the_probe_paths(path: str, status: int) -> None:
    app = TrustedHostMiddleware(answering([]), TrustedHostConfig(allowed_hosts=("api.example.com",)))
    scope = http_scope(path=path)
    scope["headers"] = [(b"host", b"evil.com")]
    assert (await call(app, scope)).status == status


@pytest.mark.needs_extras  # limits/secure: not in the tests_minimal session
async def test_rate_limiter_limits_sub_paths_of_probe_paths() -> None:
    app = RateLimitMiddleware(answering([]), RateLimitConfig(default_limits="2/minute"))
    sub = [(await call(app, http_scope(path="/health/reset"))).status for _ in range(4)]
    probe = [(await call(app, http_scope(path="/health"))).status for _ in range(4)]
    print(f"\n[figures] /health/reset: admitted {sub.count(200)} vs limit 2 of 4; /health: {probe.count(200)} of 4")
    assert sub == [200, 200, 429, 429]
    assert probe == [200] * 4


def test_one_definition_matches_like_the_health_layer() -> None:
    config = HealthConfig()
    paths = ProbePaths(tuple(path for path in (config.liveness_path, config.health_path) if path))
    assert paths.route("/health") == paths.route("/health/") == paths.route("/health//") == "/health"
    assert paths.route("/health/reset") is None
    assert paths.route("/healthz") is None
    assert paths.route("/") is None
    below = ProbePaths(("/.well-known/",))  # an entry ending in '/' covers what is below it
    assert below.matches("/.well-known/acme")
    assert not below.matches("/.well-knownx")
    assert set(HEALTH_PROBE_PATHS) >= {"/livez", "/readyz", "/startupz", "/health"}
