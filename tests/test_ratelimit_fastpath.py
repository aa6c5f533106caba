"""What the rate limit remembers per request stays bounded and changes no decision.

The policy table remembers its answer per method and path, the client resolver its
parse of direct peers, and it samples its look for forwarding headers. None of that may
change a decision, a header, a counter or a warning.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import pytest

from hardening import clientip
from hardening.clientip import ClientResolver
from hardening.ratelimit import MemoryStore, RateLimitConfig, RateLimiter, RateLimitMiddleware, RateLimitRule
from hardening.ratelimit.middleware import merge_headers
from tests.extras import import_extra

import_extra("limits", "hardening[ratelimit]")

pytestmark = [pytest.mark.needs_extras]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _scope(client: tuple[str, int] | None, headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": "/", "client": client, "headers": headers or []}


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
    config = RateLimitConfig(
        default_limits="5/minute",
        exempt_paths=("/health",),
        rules=(RateLimitRule(path="/login", methods=("POST",), limits="1/minute", name="login"),),
    )
    table = RateLimiter(config).table
    fresh = RateLimiter(config).table
    for method, path in [("GET", "/login"), ("POST", "/login"), ("GET", "/health"), ("POST", "/health/x")]:
        first = table.match(method, path)
        assert table.match(method, path) is first  # remembered
        assert (first is None) is (fresh.match(method, path) is None)
        assert first is None or first.name == fresh.match(method, path).name  # type: ignore[union-attr]
    for i in range(10_000):
        policy = table.match(f"M{i % 100}", f"/p/{i}")
        assert policy is not None
        assert policy.name == "default"
    assert table.remembered <= table.cache_size


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
