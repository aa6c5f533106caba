"""The rate limit's fast paths decide exactly like the generic path, and stay bounded.

The middleware admits the common request (one limit, sliding-window counter, memory
store) through ``Policy.admit_now``, caches its route match per method and path, and the
client resolver samples its look for forwarding headers. None of that may change a
decision, a header, a counter or a warning.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardening import clientip
from hardening.clientip import ClientResolver
from hardening.ratelimit import MemoryStore, RateLimitConfig, RateLimiter, RateLimitMiddleware, RateLimitRule
from hardening.ratelimit.headers import decision_headers
from hardening.ratelimit.middleware import merge_headers
from hardening.ratelimit.policy import Policy
from tests.extras import import_extra

import_extra("limits", "hardening[ratelimit]")

pytestmark = [pytest.mark.needs_extras]

CLIENTS = [("203.0.113.5", 1), ("198.51.100.7", 2), ("2001:db8:1:2::1", 3), ("2001:db8:1:2::9", 4), ("testclient", 5)]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _limiter(clock: Clock, **config: Any) -> tuple[RateLimiter, Policy]:
    limiter = RateLimiter(RateLimitConfig(**config), store=MemoryStore(clock=clock))
    policy = limiter.table.match("GET", "/")
    assert policy is not None
    return limiter, policy


def _scope(client: tuple[str, int] | None, headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": "/", "client": client, "headers": headers or []}


@given(
    amount=st.integers(1, 6),
    window=st.sampled_from(["1 second", "2 seconds", "5 seconds", "1 minute"]),
    cost=st.integers(1, 3),
    shadow=st.booleans(),
    ietf=st.booleans(),
    legacy=st.booleans(),
    key=st.sampled_from(["ip", "api_key"]),
    start=st.floats(0, 1e6, allow_nan=False),
    requests=st.lists(
        st.tuples(st.floats(0, 3, allow_nan=False), st.integers(0, len(CLIENTS) - 1)), min_size=1, max_size=40
    ),
)
def test_fast_path_decides_like_the_generic_path(
    amount: int,
    window: str,
    cost: int,
    shadow: bool,
    ietf: bool,
    legacy: bool,
    key: Any,
    start: float,
    requests: list[tuple[float, int]],
) -> None:
    limits = f"{amount} per {window}"
    options: dict[str, Any] = {
        "default_limits": "",
        "rules": (RateLimitRule(path="/", limits=limits, cost=cost),),
        "strategy": "sliding-window-counter",
        "shadow": shadow,
        "headers": ietf,
        "legacy_headers": legacy,
        "key": key,
    }
    fast_clock, slow_clock = Clock(start), Clock(start)
    fast, fast_policy = _limiter(fast_clock, **options)
    slow, slow_policy = _limiter(slow_clock, **options)
    admit = fast_policy.admit_now
    assert admit is not None
    for gap, client in requests:
        fast_clock.now += gap
        slow_clock.now += gap
        scope = _scope(CLIENTS[client], [(b"x-api-key", b"k%d" % (client % 2))])
        # As the middleware: the fast path, else the generic decision.
        headers = admit(scope)
        status = "allowed"
        if headers is None:
            decision = fast.decide_now(fast_policy, scope)
            assert decision is not None
            status = decision.status
            headers = decision_headers(decision, ietf=ietf, legacy=legacy)
        expected = slow.decide_now(slow_policy, scope)
        assert expected is not None
        assert status == expected.status
        assert headers == decision_headers(expected, ietf=ietf, legacy=legacy)
    assert fast.stats()["decisions"] == slow.stats()["decisions"]
    assert fast.counters == slow.counters
    assert len(fast.store) == len(slow.store)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "config",
    [
        {"default_limits": "5/minute", "strategy": "moving-window"},
        {"default_limits": "5/minute", "strategy": "fixed-window"},
        {"default_limits": "5/second;100/minute", "strategy": "sliding-window-counter"},
    ],
)
def test_only_the_common_case_has_a_fast_path(config: dict[str, Any]) -> None:
    _, policy = _limiter(Clock(0.0), **config)
    assert policy.admit_now is None


def test_an_async_key_function_has_no_fast_path() -> None:
    async def tenant(scope: Any) -> str:
        return "t"

    _, policy = _limiter(Clock(0.0), default_limits="5/minute", key_func=tenant)
    assert policy.admit_now is None


async def _drive(app: Any, scope: dict[str, Any]) -> list[MutableMapping[str, Any]]:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.anyio
async def test_admitted_requests_are_counted_and_limited_ones_answered() -> None:
    clock = Clock(100.0)
    limiter = RateLimiter(RateLimitConfig(default_limits="3/minute"), store=MemoryStore(clock=clock))
    app = RateLimitMiddleware(_ok, limiter)
    statuses = []
    for _ in range(5):
        sent = await _drive(app, _scope(("192.0.2.1", 1)))
        statuses.append(sent[0]["status"])
    assert statuses == [200, 200, 200, 429, 429]
    assert limiter.stats()["decisions"] == {"allowed": 3, "limited": 2}
    assert limiter.counters["allowed"] == 3


@pytest.mark.anyio
async def test_response_headers_are_copied_not_edited_in_place() -> None:
    shared = [(b"content-type", b"text/plain")]

    async def reused(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": shared})
        await send({"type": "http.response.body", "body": b"ok"})

    app = RateLimitMiddleware(reused, RateLimiter(RateLimitConfig(default_limits="9/minute")))
    first = await _drive(app, _scope(("192.0.2.1", 1)))
    await _drive(app, _scope(("192.0.2.1", 1)))
    assert shared == [(b"content-type", b"text/plain")]
    names = [name for name, _ in first[0]["headers"]]
    assert names == [b"content-type", b"ratelimit-policy", b"ratelimit"]


def test_merge_joins_the_lists_an_endpoint_already_set() -> None:
    existing = [(b"ratelimit-policy", b'"login";q=5;w=60'), (b"ratelimit", b'"login";r=4;t=60'), (b"x-a", b"1")]
    ours = [(b"ratelimit-policy", b'"default";q=9;w=60'), (b"ratelimit", b'"default";r=8;t=60')]
    assert merge_headers(list(existing), ours) == [
        (b"ratelimit-policy", b'"login";q=5;w=60, "default";q=9;w=60'),
        (b"ratelimit", b'"login";r=4;t=60, "default";r=8;t=60'),
        (b"x-a", b"1"),
    ]
    assert merge_headers([(b"x-a", b"1")], ours) == [(b"x-a", b"1"), *ours]


def test_route_cache_is_bounded_and_answers_like_the_table() -> None:
    limiter = RateLimiter(
        RateLimitConfig(
            default_limits="5/minute",
            exempt_paths=("/health",),
            rules=(RateLimitRule(path="/login", methods=("POST",), limits="1/minute", name="login"),),
        )
    )
    middleware = RateLimitMiddleware(_ok, limiter)

    async def run() -> None:
        for method, path in [("GET", "/login"), ("POST", "/login"), ("GET", "/health"), ("POST", "/health/x")]:
            scope = _scope(("192.0.2.1", 1))
            scope.update(method=method, path=path)
            await _drive(middleware, scope)
            assert middleware._routes[method][path] is limiter.table.match(method, path)

    anyio.run(run)
    for i in range(10_000):
        assert middleware._route(f"M{i % 100}", f"/p/{i}") is limiter.table.match("GET", "/p/0")
    assert sum(len(paths) for paths in middleware._routes.values()) <= 8192


def test_peer_address_cache_is_bounded() -> None:
    resolver = ClientResolver()
    for i in range(10_000):
        assert resolver.client_ip(_scope((f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", 1))) is not None
    assert len(clientip._peers) <= clientip._PEERS_MAX
    assert resolver.client_ip(_scope(("::ffff:192.0.2.1", 1))) == "192.0.2.1"
    assert resolver.client_ip(_scope(("testclient", 1))) == "testclient"
    assert resolver.client_ip(_scope(None)) is None


def test_forwarding_headers_are_still_warned_about_after_many_plain_requests(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="hardening.clientip")
    resolver = ClientResolver()
    for _ in range(1000):
        resolver.client_ip(_scope(("203.0.113.9", 1)))
    forwarded = _scope(("203.0.113.9", 1), [(b"x-forwarded-for", b"1.1.1.1")])
    for _ in range(64):  # behind a proxy every request carries the header
        assert resolver.client_ip(forwarded) == "203.0.113.9"
    assert sum("forwarded_header_ignored" in r.getMessage() for r in caplog.records) == 1
    for _ in range(200):
        resolver.client_ip(forwarded)
    assert sum("forwarded_header_ignored" in r.getMessage() for r in caplog.records) == 1
