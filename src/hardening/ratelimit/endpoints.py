"""Endpoint-level limits: a decorator for Starlette endpoints and a FastAPI dependency.

Both find the limiter that :class:`~hardening.ratelimit.RateLimitMiddleware` left in
``scope["state"]`` (or take one explicitly), so they share its store, breaker and
fallback. Their limits are parsed when they are created, at import time.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, MutableMapping
from typing import Any, Final, TypeVar

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from hardening._asgi import RawHeaders
from hardening.errors import ConfigurationError
from hardening.problems import Problem, ProblemResponse
from hardening.ratelimit.config import PolicyOptions
from hardening.ratelimit.headers import decision_headers
from hardening.ratelimit.limiter import Decision, RateLimiter
from hardening.ratelimit.middleware import LIMITER_STATE_KEY, PENDING_PROBLEM_STATE_KEY, rejection

__all__ = ("RateLimitDependency", "RateLimitExceeded", "rate_limit")

F = TypeVar("F", bound=Callable[..., Any])
_SLUG: Final = re.compile(r"[^A-Za-z0-9]+")


def _slug(text: str) -> str:
    return _SLUG.sub("-", text).strip("-").lower()[:64] or "endpoint"


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
    scope: MutableMapping[str, Any], explicit: RateLimiter | None, options: PolicyOptions
) -> tuple[Decision, RateLimiter]:
    """Decide one request against ``options`` with the middleware's (or the explicit) limiter."""
    active = _find_limiter(scope, explicit)
    return await active.decide(active.policy_for(options), scope), active


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


def _options(limits: str, name: str | None, options: dict[str, Any]) -> PolicyOptions:
    """Validate endpoint-level options now (at import time), failing loudly."""
    label = f"rate_limit({name!r})" if name else "rate_limit()"
    try:
        parsed = PolicyOptions(limits=limits, name=name, **options)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'options'}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"{label}: {problems}") from None
    if not parsed.parsed_limits():
        msg = f"{label} needs limits such as '5/minute'"
        raise ConfigurationError(msg)
    return parsed


def rate_limit(
    limits: str, *, name: str | None = None, limiter: RateLimiter | None = None, **options: Any
) -> Callable[[F], F]:
    """Limit a Starlette endpoint (a function or method taking a ``Request``).

    The limit applies in addition to the middleware's policy for the route. Rejected
    requests get the problem+json 429 (or 503 in the ``closed`` failure mode); admitted
    responses get this policy's ``RateLimit`` items.

    Args:
        limits: Limits such as ``"5/minute"`` or ``"10/second;100/hour"``.
        name: The policy name (headers, keys); defaults to the endpoint's name.
        limiter: A limiter to use instead of the middleware's.
        **options: The other :class:`~hardening.ratelimit.PolicyOptions` (``cost``,
            ``key``, ``key_func``, ``strategy``, ``failure_mode``, ``fallback_scale``,
            ``shadow``); unset ones default to the config's.

    Raises:
        ConfigurationError: The limits, the name or an option are invalid (at decoration time).
    """
    base = _options(limits, name, options)  # parsed now, so a typo fails at import time

    def decorate(func: F) -> F:
        spec = base if name else base.model_copy(update={"name": _slug(func.__qualname__)})
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
        limiter: A limiter to use instead of the middleware's.
        **options: The other :class:`~hardening.ratelimit.PolicyOptions`, as for
            :func:`rate_limit`.

    Raises:
        ConfigurationError: The limits, the name or an option are invalid (at creation time).
    """

    def __init__(
        self, limits: str, *, name: str | None = None, limiter: RateLimiter | None = None, **options: Any
    ) -> None:
        self.options = _options(limits, name, options)
        self._limiter = limiter
        self._per_route: dict[str, PolicyOptions] = {}

    def _options_for(self, request: Request) -> PolicyOptions:
        if self.options.name is not None:
            return self.options
        route = request.scope.get("route")
        template = getattr(route, "path", None) or request.url.path
        options = self._per_route.get(template)
        if options is None:
            options = self._per_route[template] = self.options.model_copy(update={"name": _slug(template)})
        return options

    async def __call__(self, request: Request, response: Response) -> None:
        """Decide the request; raise :class:`RateLimitExceeded` when it is rejected."""
        decision, active = await _decide(request.scope, self._limiter, self._options_for(request))
        if decision.status != "allowed":
            problem, headers = _rejection(decision, active)
            request.scope.setdefault("state", {})[PENDING_PROBLEM_STATE_KEY] = (problem, headers)
            raise RateLimitExceeded(decision, _text_headers(headers), problem.detail or problem.title)
        _add_decision_headers(response, decision, active)
