"""``RateLimitMiddleware``: a pure ASGI layer that decides each HTTP request once.

Rejected requests get a problem+json 429 (``rate-limited``) with ``Retry-After`` and the
rate-limit headers; in the ``closed`` failure mode a 503 (``temporary-reduced-capacity``).
Admitted requests get the headers added to their ``http.response.start``; the body is
never touched, so streaming responses stream. WebSocket scopes pass through; at lifespan
start-up the limiter warms up (connects, loads its scripts), at shutdown its probe and
connections are closed.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Final

from hardening._asgi import ASGIApp, Message, RawHeaders, Receive, Scope, Send, scope_state
from hardening._context import LayerContext
from hardening.problems import Problem, problem_type, send_problem
from hardening.ratelimit.config import RateLimitConfig
from hardening.ratelimit.headers import HEADER_NAMES, decision_headers
from hardening.ratelimit.limiter import Decision, RateLimiter
from hardening.ratelimit.policy import UnknownClientError

__all__ = ("LIMITER_STATE_KEY", "PENDING_PROBLEM_STATE_KEY", "RateLimitMiddleware", "reject")

LIMITER_STATE_KEY: Final = "hardening.rate_limiter"
"""Key under ``scope["state"]`` where the middleware leaves its limiter for endpoints."""

PENDING_PROBLEM_STATE_KEY: Final = "hardening.rate_limit_problem"
"""Key under ``scope["state"]`` where the FastAPI dependency leaves a rejection, so the
middleware can answer it as problem+json instead of the framework's JSON error."""


def rejection(
    decision: Decision, *, ietf: bool = True, legacy: bool = False, unavailable_retry: int = 1
) -> tuple[Problem, RawHeaders]:
    """Return the problem and headers that answer a ``limited`` or ``unavailable`` decision.

    Args:
        decision: The decision.
        ietf: Include the IETF headers.
        legacy: Include ``X-RateLimit-*``.
        unavailable_retry: ``Retry-After`` seconds of a 503 (the probe interval).
    """
    headers = decision_headers(decision, ietf=ietf, legacy=legacy)
    if decision.status == "unavailable":
        retry = unavailable_retry
        problem = Problem(
            503,
            type=problem_type("temporary-reduced-capacity"),
            title="Temporarily reduced capacity",
            detail="Request limits cannot be checked right now; retry shortly.",
            extensions={"violated-policies": [decision.policy.name]},
        )
    else:
        retry = decision.retry_after()
        problem = Problem(
            429,
            type=problem_type("rate-limited"),
            title="Too Many Requests",
            detail=f"Too many requests; retry after {retry} second{'' if retry == 1 else 's'}.",
            extensions={"violated-policies": _violated(decision)},
        )
    headers.append((b"retry-after", str(retry).encode()))
    return problem, headers


def _violated(decision: Decision) -> list[str]:
    policy, outcome = decision.policy, decision.outcome
    if outcome is None:
        return [policy.name]
    names = [
        name for name, result in zip(policy.item_names, outcome.results, strict=True) if result.remaining < policy.cost
    ]
    return names or [policy.name]


async def reject(
    scope: Scope,
    send: Send,
    decision: Decision,
    *,
    ietf: bool = True,
    legacy: bool = False,
    unavailable_retry: int = 1,
) -> None:
    """Answer a rejected decision with its problem+json response."""
    problem, headers = rejection(decision, ietf=ietf, legacy=legacy, unavailable_retry=unavailable_retry)
    await send_problem(scope, send, problem, headers=headers)


async def _nothing() -> None:
    """An awaitable that sends nothing."""


_LISTS: Final = frozenset({b"ratelimit", b"ratelimit-policy"})


def merge_headers(existing: RawHeaders, ours: RawHeaders) -> RawHeaders:
    """Add our rate-limit headers to a response's headers.

    ``RateLimit`` and ``RateLimit-Policy`` are lists: an endpoint-level policy's items
    and ours are joined. Other headers the app already set (legacy ones) are kept.
    ``ours`` are :func:`~hardening.ratelimit.headers.decision_headers`.
    """
    for pair in existing:  # a loop costs less than isdisjoint(map(itemgetter)) on a few headers
        if pair[0] in HEADER_NAMES:
            break
    else:  # the usual response: none of ours yet
        existing += ours
        return existing
    present = {name: index for index, (name, _) in enumerate(existing)}
    for name, value in ours:
        index = present.get(name)
        if index is None:
            existing.append((name, value))
        elif name in _LISTS:
            existing[index] = (name, existing[index][1] + b", " + value)
    return existing


class RateLimitMiddleware:
    """Rate-limit HTTP requests with a :class:`~hardening.ratelimit.RateLimiter`.

    Args:
        app: The ASGI app to wrap.
        config: The rate-limit settings, or a :class:`~hardening.ratelimit.RateLimiter`
            already built from them (to share it with endpoint limits).
        context: The stack's shared context: a limiter built here uses its client
            resolver.
    """

    def __init__(
        self,
        app: ASGIApp,
        config: RateLimitConfig | RateLimiter | None = None,
        *,
        context: LayerContext | None = None,
    ) -> None:
        if isinstance(config, RateLimiter):
            limiter = config
        else:
            limiter = RateLimiter(config, resolver=(context or LayerContext()).resolver)
        self.app = app
        self.limiter = limiter
        config = limiter.config
        self._ietf = config.headers
        self._legacy = config.legacy_headers
        self._match = limiter.table.match
        self._decide_now = limiter.decide_now  # memory counters: no coroutine per request
        self._decide = limiter.decide
        self._retry_503 = max(1, round(config.probe_interval))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Decide an HTTP request, then answer it or pass it on with headers."""
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                receive = self._lifespan_receive(receive)
            await self.app(scope, receive, send)
            return
        state = scope.get("state")
        if state is None:
            state = scope_state(scope)
        state[LIMITER_STATE_KEY] = self.limiter
        policy = self._match(scope["method"], scope["path"])
        headers: RawHeaders | None = None
        if policy is not None:
            try:
                decision = self._decide_now(policy, scope) or await self._decide(policy, scope)
            except UnknownClientError:
                await send_problem(
                    scope,
                    send,
                    Problem(400, detail="The client address is unknown, so limits cannot apply."),
                )
                return
            if decision.status != "allowed":
                await reject(
                    scope,
                    send,
                    decision,
                    ietf=self._ietf,
                    legacy=self._legacy,
                    unavailable_retry=self._retry_503,
                )
                return
            headers = decision_headers(decision, ietf=self._ietf, legacy=self._legacy)
        replaced = False

        def send_with_headers(message: Message) -> Awaitable[None]:
            # A plain function returning the awaitable of the next send: no coroutine of ours.
            nonlocal replaced
            if replaced:
                return _nothing()  # the body of a response we replaced with a problem
            if message["type"] == "http.response.start":
                if PENDING_PROBLEM_STATE_KEY in state:  # `in` first: cheaper than .get() on every response
                    pending = state[PENDING_PROBLEM_STATE_KEY]
                    if pending is not None and message.get("status") in (429, 503):
                        replaced = True
                        problem, extra = pending
                        return send_problem(scope, send, problem, headers=extra)
                if headers:
                    message["headers"] = merge_headers(list(message.get("headers", ())), headers)
            return send(message)

        await self.app(scope, receive, send_with_headers)

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.limiter.start()
            elif message["type"] == "lifespan.shutdown":
                await self.limiter.aclose()
            return message

        return wrapped
