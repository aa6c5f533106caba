"""Endpoint-level limits: a decorator for Starlette endpoints and a FastAPI dependency.

Both find the limiter that :class:`~hardening.ratelimit.RateLimitMiddleware` left in
``scope["state"]`` (or take one explicitly), so they share its store, breaker and
fallback. Their limits are parsed when they are created, at import time.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
from collections.abc import Callable, MutableMapping
from typing import Any, Final, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from hardening._asgi import RawHeaders
from hardening.errors import ConfigurationError
from hardening.problems import Problem, ProblemResponse
from hardening.ratelimit.config import FailureMode, FallbackScale, KeyKind
from hardening.ratelimit.headers import decision_headers
from hardening.ratelimit.limiter import Decision, LimitSpec, RateLimiter
from hardening.ratelimit.middleware import LIMITER_STATE_KEY, PENDING_PROBLEM_STATE_KEY, rejection
from hardening.ratelimit.stores import Strategy

__all__ = ("RateLimitDependency", "RateLimitExceeded", "rate_limit")

F = TypeVar("F", bound=Callable[..., Any])
_NAME: Final = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_SLUG: Final = re.compile(r"[^A-Za-z0-9]+")


def _slug(text: str) -> str:
    return _SLUG.sub("-", text).strip("-").lower()[:64] or "endpoint"


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        msg = f"rate limit name must be 1-64 letters, digits, '_', '.' or '-', got {name[:80]!r}"
        raise ConfigurationError(msg)
    return name


class RateLimitExceeded(HTTPException):
    """Raised by :class:`RateLimitDependency` when a request is rejected (429 or 503).

    With :class:`~hardening.ratelimit.RateLimitMiddleware` in the stack the response
    becomes the same problem+json document the middleware sends.

    Attributes:
        decision: The limiter's decision.
    """

    def __init__(self, decision: Decision, headers: dict[str, str], detail: str) -> None:
        status = 503 if decision.status == "unavailable" else 429
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.decision = decision


def _find_limiter(scope: MutableMapping[str, Any], explicit: RateLimiter | None) -> RateLimiter:
    if explicit is not None:
        return explicit
    limiter = scope.get("state", {}).get(LIMITER_STATE_KEY)
    if limiter is None:
        msg = (
            "endpoint rate limits need RateLimitMiddleware in the stack (harden() with "
            "rate_limit enabled) or an explicit limiter=RateLimiter(...)"
        )
        raise RuntimeError(msg)
    return limiter  # type: ignore[no-any-return]


async def _decide(
    scope: MutableMapping[str, Any], explicit: RateLimiter | None, spec: LimitSpec
) -> tuple[Decision, RateLimiter]:
    """Decide one request against ``spec`` with the middleware's (or the explicit) limiter."""
    active = _find_limiter(scope, explicit)
    return await active.decide(active.policy_for(spec), scope), active


def _rejection(decision: Decision, limiter: RateLimiter) -> tuple[Problem, RawHeaders]:
    config = limiter.config
    return rejection(
        decision,
        ietf=config.headers,
        legacy=config.legacy_headers,
        unavailable_retry=max(1, round(config.probe_interval)),
    )


def _text_headers(headers: RawHeaders) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in headers}


def _add_decision_headers(response: Response, decision: Decision, limiter: RateLimiter) -> None:
    """Add the admitted request's ``RateLimit`` items to ``response``."""
    config = limiter.config
    for header, value in decision_headers(decision, ietf=config.headers, legacy=config.legacy_headers):
        response.headers[header.decode()] = value.decode()


def _spec(
    limits: str,
    name: str,
    *,
    cost: int,
    key: KeyKind | None,
    key_func: Callable[..., Any] | None,
    strategy: Strategy | None,
    failure_mode: FailureMode | None,
    fallback_scale: FallbackScale | None,
    shadow: bool | None,
) -> LimitSpec:
    if cost < 1:
        msg = f"rate limit {name!r}: cost must be at least 1"
        raise ConfigurationError(msg)
    return LimitSpec.parse(
        limits,
        name=_check_name(name),
        cost=cost,
        key=key,
        key_func=key_func,
        strategy=strategy,
        failure_mode=failure_mode,
        fallback_scale=fallback_scale,
        shadow=shadow,
    )


def rate_limit(
    limits: str,
    *,
    name: str | None = None,
    cost: int = 1,
    key: KeyKind | None = None,
    key_func: Callable[..., Any] | None = None,
    strategy: Strategy | None = None,
    failure_mode: FailureMode | None = None,
    fallback_scale: FallbackScale | None = None,
    shadow: bool | None = None,
    limiter: RateLimiter | None = None,
) -> Callable[[F], F]:
    """Limit a Starlette endpoint (a function or method taking a ``Request``).

    The limit applies in addition to the middleware's policy for the route. Rejected
    requests get the problem+json 429 (or 503 in the ``closed`` failure mode); admitted
    responses get this policy's ``RateLimit`` items.

    Args:
        limits: Limits such as ``"5/minute"`` or ``"10/second;100/hour"``.
        name: The policy name (headers, keys); defaults to the endpoint's name.
        cost: Quota units per request.
        key: ``ip``, ``api_key`` or ``user``; defaults to the config's ``key``.
        key_func: A callable ``(scope) -> str | None`` giving the bucket identity.
        strategy: Counting strategy; defaults to the config's.
        failure_mode: ``fallback``, ``open`` or ``closed``; defaults to the config's.
        fallback_scale: ``per_worker`` or ``same``; defaults to the config's.
        shadow: Decide without rejecting; defaults to the config's.
        limiter: A limiter to use instead of the middleware's.

    Raises:
        ConfigurationError: The limits or the name are invalid (at decoration time).
    """
    base = _spec(  # parsed now, so a typo fails at import time even before decoration
        limits,
        name or "endpoint",
        cost=cost,
        key=key,
        key_func=key_func,
        strategy=strategy,
        failure_mode=failure_mode,
        fallback_scale=fallback_scale,
        shadow=shadow,
    )

    def decorate(func: F) -> F:
        spec = base if name else dataclasses.replace(base, name=_slug(func.__qualname__))
        is_async = inspect.iscoroutinefunction(func)

        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            request = next((value for value in (*args, *kwargs.values()) if isinstance(value, Request)), None)
            if request is None:
                msg = f"@rate_limit on {func.__qualname__} needs a Request argument"
                raise TypeError(msg)
            decision, active = await _decide(request.scope, limiter, spec)
            if decision.status != "allowed":
                problem, headers = _rejection(decision, active)
                return ProblemResponse(problem, headers=_text_headers(headers))
            response = await func(*args, **kwargs) if is_async else await run_in_threadpool(func, *args, **kwargs)
            if isinstance(response, Response):
                _add_decision_headers(response, decision, active)
            return response

        wrapper.__hardening_rate_limit__ = spec  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


class RateLimitDependency:
    """A FastAPI dependency that rate-limits the route it is attached to.

    Use ``dependencies=[Depends(RateLimitDependency("5/minute"))]``. Without a ``name``
    each route gets its own bucket, named after its path template. Rejections raise
    :class:`RateLimitExceeded`; with the middleware in the stack the client receives the
    middleware's problem+json document. Admitted responses get the ``RateLimit`` items.

    Args:
        limits: Limits such as ``"5/minute"``.
        name: The policy name; defaults to the route's path template.
        cost: Quota units per request.
        key: ``ip``, ``api_key`` or ``user``.
        key_func: A callable ``(scope) -> str | None`` giving the bucket identity.
        strategy: Counting strategy.
        failure_mode: ``fallback``, ``open`` or ``closed``.
        fallback_scale: ``per_worker`` or ``same``.
        shadow: Decide without rejecting.
        limiter: A limiter to use instead of the middleware's.

    Raises:
        ConfigurationError: The limits or the name are invalid (at creation time).
    """

    def __init__(
        self,
        limits: str,
        *,
        name: str | None = None,
        cost: int = 1,
        key: KeyKind | None = None,
        key_func: Callable[..., Any] | None = None,
        strategy: Strategy | None = None,
        failure_mode: FailureMode | None = None,
        fallback_scale: FallbackScale | None = None,
        shadow: bool | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.spec = _spec(
            limits,
            name or "endpoint",
            cost=cost,
            key=key,
            key_func=key_func,
            strategy=strategy,
            failure_mode=failure_mode,
            fallback_scale=fallback_scale,
            shadow=shadow,
        )
        self._named = name is not None
        self._limiter = limiter
        self._per_route: dict[str, LimitSpec] = {}

    def _spec_for(self, request: Request) -> LimitSpec:
        if self._named:
            return self.spec
        route = request.scope.get("route")
        template = getattr(route, "path", None) or request.url.path
        spec = self._per_route.get(template)
        if spec is None:
            spec = dataclasses.replace(self.spec, name=_slug(template))
            self._per_route[template] = spec
        return spec

    async def __call__(self, request: Request, response: Response) -> None:
        """Decide the request; raise :class:`RateLimitExceeded` when it is rejected."""
        decision, active = await _decide(request.scope, self._limiter, self._spec_for(request))
        if decision.status != "allowed":
            problem, headers = _rejection(decision, active)
            request.scope.setdefault("state", {})[PENDING_PROBLEM_STATE_KEY] = (problem, headers)
            raise RateLimitExceeded(decision, _text_headers(headers), problem.detail or problem.title)
        _add_decision_headers(response, decision, active)
