"""Rate limiting that keeps limiting when Redis fails, and recovers by itself.

* :class:`RateLimitConfig` / :class:`RateLimitRule`: what is limited and how.
* :class:`RateLimitMiddleware`: the pure ASGI layer (``RateLimitConfig.build``).
* :class:`RateLimiter`: the engine; ``stats()`` and ``health()`` for operators.
* :func:`rate_limit` (Starlette endpoints) and :class:`RateLimitDependency` (FastAPI).

``limits`` and ``redis`` are imported only when a limiter is built.
"""

from __future__ import annotations

from hardening.ratelimit._rules import CHECKS
from hardening.ratelimit.breaker import CircuitBreaker, is_storage_error
from hardening.ratelimit.config import PolicyOptions, RateLimitConfig, RateLimitRule
from hardening.ratelimit.endpoints import RateLimitDependency, RateLimitExceeded, rate_limit
from hardening.ratelimit.limiter import Decision, LimiterHealth, RateLimiter, active_limiters
from hardening.ratelimit.middleware import RateLimitMiddleware
from hardening.ratelimit.stores import Limit, LimitResult, MemoryStore, Outcome, RedisStore

__all__ = (
    "CHECKS",
    "CircuitBreaker",
    "Decision",
    "Limit",
    "LimitResult",
    "LimiterHealth",
    "MemoryStore",
    "Outcome",
    "PolicyOptions",
    "RateLimitConfig",
    "RateLimitDependency",
    "RateLimitExceeded",
    "RateLimitMiddleware",
    "RateLimitRule",
    "RateLimiter",
    "RedisStore",
    "active_limiters",
    "is_storage_error",
    "rate_limit",
)
