"""Rate limiting without Redis: config, policies, keys, headers, the bounded memory store."""

from __future__ import annotations

import dataclasses
import logging
import sys
import tracemalloc
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from hardening import LayerContext, build_layer
from hardening.errors import ConfigurationError
from hardening.ratelimit import (
    CHECKS,
    MemoryStore,
    RateLimitConfig,
    RateLimitDependency,
    RateLimiter,
    RateLimitMiddleware,
    RateLimitRule,
    rate_limit,
)
from hardening.ratelimit.limiter import Decision
from hardening.ratelimit.stores import Limit, LimitResult, Outcome, Strategy
from hardening.settings import HardeningSettings
from tests.extras import import_extra

import_extra("limits", "hardening[ratelimit]")

pytestmark = [pytest.mark.anyio, pytest.mark.needs_extras]

CANARY = "s3cr3t-canary-pw"


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def app_with(config: RateLimitConfig, *, client: tuple[str, int] = ("203.0.113.5", 1), **kw: Any) -> httpx.AsyncClient:
    starlette = Starlette(
        routes=[Route("/", ok), Route("/items/{id}", ok), Route("/login", ok, methods=["GET", "POST"])]
    )
    wrapped = build_layer(starlette, config, LayerContext.of(kw["settings"]) if "settings" in kw else None)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped, client=client), base_url="http://testserver")


# --------------------------------------------------------------------------- config


def test_sync_scheme_is_refused_without_leaking_the_password() -> None:
    with pytest.raises(ValidationError) as info:
        RateLimitConfig(storage_uri=f"redis://:{CANARY}@localhost:6379/0")
    text = str(info.value)
    assert "async+redis://" in text
    assert "storage_uri" in text
    assert "HARDENING_" not in text  # built in code: the field is named, not a variable
    assert CANARY not in text


def test_sync_scheme_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDENING_RATE_LIMIT__STORAGE_URI", f"memory://{CANARY}")
    with pytest.raises((ValidationError, ConfigurationError)) as info:
        HardeningSettings()
    assert "HARDENING_RATE_LIMIT__STORAGE_URI" in str(info.value)
    assert CANARY not in str(info.value)


def test_limiter_refuses_a_bad_uri_with_configuration_error() -> None:
    config = RateLimitConfig.model_construct(storage_uri=__import__("pydantic").SecretStr("redis://x"))
    with pytest.raises(ConfigurationError, match="async\\+redis"):
        RateLimiter(config)


@pytest.mark.parametrize("text", ["10 per hour", "10/hour;100/day;2000 per year", "100/day, 500/7days"])
def test_limit_strings_from_the_limits_docs_parse(text: str) -> None:
    assert RateLimitConfig(default_limits=text).default_limits == text


def test_invalid_limits_fail_at_start_up_naming_the_setting() -> None:
    with pytest.raises(ValidationError, match=r"(?s)^(?!.*HARDENING_).*\bdefault_limits\b"):
        RateLimitConfig(default_limits="ten per fortnight")
    with pytest.raises(ValidationError, match=r"(?s)^(?!.*HARDENING_).*\blimits\b"):
        RateLimitRule(path="/login", limits="5/lightyear")
    with pytest.raises(ValidationError, match="needs 'limits'"):
        RateLimitRule(path="/login")
    with pytest.raises(ConfigurationError):
        rate_limit("nonsense")


def test_rules_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDENING_RATE_LIMIT__RULES", '[{"path": "/login", "limits": "5/minute", "methods": ["post"]}]')
    rule = HardeningSettings().rate_limit.rules[0]
    assert rule.methods == ("POST",)


def test_storage_uri_is_secret_in_repr() -> None:
    config = RateLimitConfig(storage_uri=f"async+redis://:{CANARY}@localhost/0")
    assert CANARY not in repr(config)


# --------------------------------------------------------------------------- middleware


async def test_burst_meets_429_problem_with_headers() -> None:
    async with app_with(RateLimitConfig(default_limits="3/minute", legacy_headers=True)) as client:
        responses = [await client.get("/") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    limited = responses[-1]
    assert limited.headers["content-type"] == "application/problem+json"
    body = limited.json()
    assert body["type"] == "urn:hardening:problem:rate-limited"
    assert body["violated-policies"] == ["default"]
    assert int(limited.headers["retry-after"]) >= 1
    assert responses[0].headers["ratelimit-policy"] == '"default";q=3;w=60'
    assert responses[0].headers["ratelimit"].startswith('"default";r=2;t=')
    assert responses[0].headers["x-ratelimit-limit"] == "3"
    assert "retry-after" not in responses[0].headers


async def test_default_config_limits_a_burst() -> None:
    async with app_with(RateLimitConfig()) as client:
        statuses = [(await client.get("/")).status_code for _ in range(60)]
    assert 429 in statuses


async def test_route_template_shares_a_bucket_and_first_match_wins() -> None:
    config = RateLimitConfig(
        default_limits="",
        rules=(
            RateLimitRule(path="/items/{id}", limits="2/minute"),
            RateLimitRule(path="/items/{id}", limits="100/minute"),
        ),
    )
    async with app_with(config) as client:
        statuses = [(await client.get(p)).status_code for p in ("/items/1", "/items/2/", "/ITEMS/3")]
    assert statuses == [200, 307, 429]  # the 307 (Starlette's slash redirect) used the quota


@pytest.mark.parametrize(
    ("exempt", "path", "expected"),
    [
        (("/health",), "/health", True),
        (("/health/",), "/health/db", True),
        (("/health",), "/healthy", False),
        (("/health",), "/", False),
        (("/",), "/anything/at/all", True),
        ((), "/health", False),
    ],
)
def test_exempt_paths_cover_themselves_and_their_sub_paths(exempt: tuple[str, ...], path: str, expected: bool) -> None:
    table = RateLimiter(RateLimitConfig(default_limits="1/second", exempt_paths=exempt)).table
    assert (table.match("GET", path) is None) is expected


async def test_methods_exempt_rules_and_health_paths() -> None:
    config = RateLimitConfig(
        default_limits="1/minute",
        rules=(
            RateLimitRule(path="/login", methods=("POST",), limits="1/minute", name="login"),
            RateLimitRule(path="/items/*", exempt=True),
        ),
    )
    async with app_with(config) as client:
        assert (await client.post("/login")).status_code == 200
        assert (await client.post("/login")).status_code == 429
        assert (await client.get("/login")).status_code == 200  # default policy
        assert [(await client.get("/items/9")).status_code for _ in range(5)] == [200] * 5
        assert [(await client.get("/livez")).status_code for _ in range(5)] == [404] * 5  # exempt


async def test_shadow_mode_never_rejects_but_counts() -> None:
    config = RateLimitConfig(default_limits="1/minute", shadow=True)
    starlette = Starlette(routes=[Route("/", ok)])
    limiter = RateLimiter(config)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=RateLimitMiddleware(starlette, limiter)), base_url="http://t"
    )
    async with client:
        responses = [await client.get("/") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert responses[-1].headers["ratelimit"].startswith('"default";r=0')
    assert limiter.stats()["decisions"]["shadow_limited"] == 2


async def test_spoofed_forwarded_headers_from_untrusted_peer_do_not_change_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with app_with(RateLimitConfig(default_limits="2/minute")) as client:
        statuses = [
            (
                await client.get("/", headers={"x-forwarded-for": f"10.0.0.{i}", "forwarded": f"for=10.1.0.{i}"})
            ).status_code
            for i in range(4)
        ]
    assert statuses == [200, 200, 429, 429]
    assert any("forwarded_header_ignored" in r.getMessage() for r in caplog.records)


async def test_trusted_proxy_gives_each_client_its_bucket() -> None:
    settings = HardeningSettings(proxy={"trusted_proxies": ("10.0.0.0/8",)})
    config = RateLimitConfig(default_limits="1/minute")
    async with app_with(config, client=("10.0.0.2", 1), settings=settings) as client:
        first = await client.get("/", headers={"x-forwarded-for": "198.51.100.1, 10.0.0.3"})
        second = await client.get("/", headers={"x-forwarded-for": "198.51.100.2"})
        again = await client.get("/", headers={"x-forwarded-for": "6.6.6.6, 198.51.100.1"})
    assert [first.status_code, second.status_code, again.status_code] == [200, 200, 429]


async def test_ipv6_clients_in_one_64_share_a_bucket() -> None:
    config = RateLimitConfig(default_limits="1/minute")
    async with app_with(config, client=("2001:db8:1:2::1", 1)) as first:
        assert (await first.get("/")).status_code == 200
        wrapped = first._transport  # same app instance, different client address below
    assert wrapped is not None
    limiter = RateLimiter(config)
    policy = limiter.table.match("GET", "/")
    assert policy is not None
    a = await policy.key({"type": "http", "client": ("2001:db8:1:2::1", 1), "headers": []})
    b = await policy.key({"type": "http", "client": ("2001:db8:1:2:ffff::9", 1), "headers": []})
    c = await policy.key({"type": "http", "client": ("2001:db8:1:3::1", 1), "headers": []})
    v4 = await policy.key({"type": "http", "client": ("::ffff:192.0.2.1", 1), "headers": []})
    assert a == b != c
    assert v4 == "ip:192.0.2.1"


async def test_missing_client_is_a_named_bucket_logged_once_or_rejected(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="hardening.ratelimit")
    limiter = RateLimiter(RateLimitConfig(default_limits="5/minute"))
    policy = limiter.table.match("GET", "/")
    assert policy is not None
    keys = [await policy.key({"type": "http", "client": None, "headers": []}) for _ in range(3)]
    assert keys == ["unknown-client"] * 3
    assert sum("unknown_client" in r.getMessage() for r in caplog.records) == 1

    starlette = Starlette(routes=[Route("/", ok)])
    rejecting = RateLimitMiddleware(starlette, RateLimiter(RateLimitConfig(unknown_client="reject")))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [],
        "client": None,
        "query_string": b"",
    }
    await rejecting(scope, receive, send)
    assert sent[0]["status"] == 400


async def test_api_key_identity_is_hashed_and_bounded() -> None:
    limiter = RateLimiter(RateLimitConfig(key="api_key", default_limits="5/minute"))
    policy = limiter.table.match("GET", "/")
    assert policy is not None
    huge = b"k" * 10_000
    key = await policy.key({"type": "http", "client": ("1.2.3.4", 1), "headers": [(b"x-api-key", huge)]})
    assert len(key) < 64
    assert "kkkk" not in key
    storage_keys = policy.storage_keys(key)
    assert all(len(k) < 150 for k in storage_keys)
    fallback = await policy.key({"type": "http", "client": ("1.2.3.4", 1), "headers": []})
    assert fallback == "ip:1.2.3.4"


async def test_callable_key_and_user_key() -> None:
    async def tenant(scope: Any) -> str | None:
        return dict(scope["headers"]).get(b"x-tenant", b"").decode() or None

    limiter = RateLimiter(RateLimitConfig(key_func=tenant))
    policy = limiter.table.match("GET", "/")
    assert policy is not None
    a = await policy.key({"type": "http", "client": ("1.2.3.4", 1), "headers": [(b"x-tenant", b"a/b")]})
    b = await policy.key({"type": "http", "client": ("1.2.3.4", 1), "headers": [(b"x-tenant", b"a")]})
    assert a != b
    assert a.startswith("h:")

    class User:
        is_authenticated = True
        identity = "alice"

    users = RateLimiter(RateLimitConfig(key="user")).table.match("GET", "/")
    assert users is not None
    assert (await users.key({"type": "http", "client": ("1.2.3.4", 1), "headers": [], "user": User()})).startswith(
        "user:"
    )


@pytest.mark.parametrize("is_async", [False, True])
async def test_sync_and_async_key_functions_decide_alike(is_async: bool) -> None:
    def tenant_of(scope: Any) -> str | None:
        return dict(scope["headers"]).get(b"x-tenant", b"").decode() or None

    async def tenant_async(scope: Any) -> str | None:
        return tenant_of(scope)

    limiter = RateLimiter(RateLimitConfig(key_func=tenant_async if is_async else tenant_of, default_limits="2/minute"))
    policy = limiter.table.match("GET", "/")
    assert policy is not None
    scope = {"type": "http", "client": ("1.2.3.4", 1), "headers": [(b"x-tenant", b"z")]}
    # An async key function must be awaited; a plain one is decided without a coroutine.
    assert (limiter.decide_now(policy, scope) is None) is is_async
    assert (policy.sync_key is None) is is_async
    if policy.sync_key is not None:
        assert policy.sync_key(scope) == await policy.key(scope)
    starlette = Starlette(routes=[Route("/", ok)])
    transport = httpx.ASGITransport(app=RateLimitMiddleware(starlette, limiter), client=("203.0.113.5", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        a = [(await client.get("/", headers={"x-tenant": "a"})).status_code for _ in range(3)]
        b = [(await client.get("/", headers={"x-tenant": "b"})).status_code for _ in range(3)]
        anonymous = [(await client.get("/")).status_code for _ in range(3)]
    assert a == b == anonymous == [200, 200, 429]


@pytest.mark.parametrize("kind", ["ip", "api_key", "user"])
async def test_built_in_keys_need_no_await_and_match_the_async_form(kind: Any) -> None:
    limiter = RateLimiter(RateLimitConfig(key=kind, default_limits="5/minute"))
    policy = limiter.table.match("GET", "/")
    assert policy is not None
    assert policy.sync_key is not None
    for client in (("198.51.100.7", 1), ("2001:db8::5", 1), ("testclient", 1), None):
        scope = {"type": "http", "client": client, "headers": [(b"x-api-key", b"k1")] if client else []}
        assert policy.sync_key(scope) == await policy.key(scope)
    decision = limiter.decide_now(policy, {"type": "http", "client": ("198.51.100.7", 1), "headers": []})
    assert decision is not None
    assert decision.status == "allowed"
    assert limiter.stats()["decisions"] == {"allowed": 1}


async def test_streaming_response_passes_untouched_with_headers() -> None:
    async def stream(request: Request) -> StreamingResponse:
        async def body() -> Any:
            for chunk in (b"a", b"b", b"c"):
                yield chunk

        return StreamingResponse(body())

    app = build_layer(Starlette(routes=[Route("/s", stream)]), RateLimitConfig(default_limits="5/minute"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/s")
    assert response.content == b"abc"
    assert "ratelimit" in response.headers


async def test_starlette_decorator_limits_an_endpoint() -> None:
    @rate_limit("2/minute", name="hello")
    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hi")

    app = build_layer(Starlette(routes=[Route("/hello", hello)]), RateLimitConfig(default_limits=""))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        responses = [await client.get("/hello") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[0].headers["ratelimit-policy"] == '"hello";q=2;w=60'
    assert responses[2].json()["type"].endswith("rate-limited")


async def test_endpoint_and_middleware_headers_are_joined() -> None:
    @rate_limit("2/minute", name="hello")
    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hi")

    config = RateLimitConfig(default_limits="10/minute;100/hour", legacy_headers=True)
    app = build_layer(Starlette(routes=[Route("/hello", hello)]), config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/hello")
    assert response.headers["ratelimit-policy"] == (
        '"hello";q=2;w=60, "default-60s";q=10;w=60, "default-3600s";q=100;w=3600'
    )
    items = response.headers["ratelimit"].split(", ")
    assert [item.split(";")[:2] for item in items] == [
        ['"hello"', "r=1"],
        ['"default-60s"', "r=9"],
        ['"default-3600s"', "r=99"],
    ]
    assert 0 < int(items[2].split(";t=")[1]) <= 3600
    # One value per legacy header: the endpoint's (set first) wins.
    assert response.headers.get_list("x-ratelimit-limit") == ["2"]
    assert response.headers["x-ratelimit-remaining"] == "1"


async def test_fastapi_dependency_answers_problem_json_per_route() -> None:
    api = FastAPI()

    @api.get("/a/{x}", dependencies=[Depends(RateLimitDependency("2/minute"))])
    async def a(x: int) -> dict[str, int]:
        return {"x": x}

    @api.get("/b", dependencies=[Depends(RateLimitDependency("2/minute"))])
    async def b() -> dict[str, int]:
        return {"b": 1}

    app = build_layer(api, RateLimitConfig(default_limits=""))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        statuses = [(await client.get(f"/a/{i}")).status_code for i in range(3)]
        other = await client.get("/b")
        limited = await client.get("/a/9")
    assert statuses == [200, 200, 429]
    assert other.status_code == 200
    assert other.headers["ratelimit-policy"] == '"b";q=2;w=60'
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.json()["type"].endswith("rate-limited")
    assert int(limited.headers["retry-after"]) >= 1


async def test_websocket_and_lifespan_pass_through() -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    middleware = RateLimitMiddleware(inner, RateLimiter(RateLimitConfig()))

    async def nothing() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def drop(message: Any) -> None:
        return None

    await middleware({"type": "websocket", "path": "/", "headers": []}, nothing, drop)
    await middleware({"type": "lifespan"}, nothing, drop)
    assert seen == ["websocket", "lifespan"]


def test_health_and_stats_for_memory_storage() -> None:
    limiter = RateLimiter(RateLimitConfig())
    health = limiter.health()
    assert health.status == "pass"
    assert health.to_dict()["storage"] == "memory"
    assert limiter.stats()["state"] == "closed"


# --------------------------------------------------------------------------- production rules


def _findings(**rate_limit: Any) -> set[str]:
    settings = HardeningSettings(rate_limit=RateLimitConfig(**rate_limit))
    return {finding.id for check in CHECKS for finding in check(settings)}


def test_production_rules() -> None:
    assert "HARDENING-RATELIMIT-001" in _findings(workers=4)
    assert "HARDENING-RATELIMIT-001" in _findings(replicas=2)
    assert "HARDENING-RATELIMIT-001" not in _findings(workers=4, storage_uri="async+redis://r:6379/0")
    assert "HARDENING-RATELIMIT-002" in _findings(enabled=False)
    assert "HARDENING-RATELIMIT-003" in _findings(default_limits="")
    assert "HARDENING-RATELIMIT-004" in _findings(shadow=True)
    assert _findings(workers=1) == set()


def test_workers_default_from_web_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    limiter = RateLimiter(RateLimitConfig(default_limits="9/minute"))
    assert limiter.workers == 3
    policy = limiter.table.match("GET", "/")
    assert policy is not None
    assert policy.fallback_limits[0].amount == 3
    assert "HARDENING-RATELIMIT-001" in _findings()


# --------------------------------------------------------------------------- memory store


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def decide(store: MemoryStore, clock: FakeClock, strategy: Strategy, limit: Limit, key: str = "k") -> bool:
    return store.acquire_now((key,), (limit,), strategy, 1, clock.now).allowed


def test_result_objects_stay_frozen_comparable_and_replaceable() -> None:
    result = LimitResult(3, 1.5)
    outcome = Outcome(True, (result,))
    decision = Decision("allowed", RateLimiter().table.policies()[0], outcome)
    assert result == LimitResult(3, 1.5)
    assert hash(result) == hash(LimitResult(3, 1.5))
    assert dataclasses.replace(result, remaining=2) == LimitResult(2, 1.5)
    assert outcome == Outcome(True, (LimitResult(3, 1.5),))
    assert (decision.degraded, decision.shadow_limited) == (False, False)
    assert repr(result) == "LimitResult(remaining=3, reset=1.5)"
    for obj, name in ((result, "remaining"), (outcome, "allowed"), (decision, "status")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, None)


def test_fixed_window_edges() -> None:
    clock, store, limit = FakeClock(), MemoryStore(), Limit(2, 10, "2/10s")
    assert [decide(store, clock, "fixed-window", limit) for _ in range(3)] == [True, True, False]
    clock.now += 9.999
    assert not decide(store, clock, "fixed-window", limit)
    clock.now += 0.001
    assert decide(store, clock, "fixed-window", limit)


def test_moving_window_is_exact() -> None:
    clock, store, limit = FakeClock(), MemoryStore(), Limit(2, 10, "2/10s")
    assert decide(store, clock, "moving-window", limit)
    clock.now += 5
    assert decide(store, clock, "moving-window", limit)
    assert not decide(store, clock, "moving-window", limit)
    outcome = store.acquire_now(("k",), (limit,), "moving-window", 1, clock.now)
    assert outcome.results[0].reset == pytest.approx(5)
    clock.now += 5  # the first hit leaves the window
    assert decide(store, clock, "moving-window", limit)
    assert not decide(store, clock, "moving-window", limit)


def test_sliding_window_counter_weighs_the_previous_window() -> None:
    clock, store, limit = FakeClock(), MemoryStore(), Limit(4, 10, "4/10s")
    clock.now = 1000.0  # a window boundary
    assert [decide(store, clock, "sliding-window-counter", limit) for _ in range(5)] == [True] * 4 + [False]
    clock.now = 1015.0  # half way through the next window: 4 * 0.5 = 2 still count
    assert [decide(store, clock, "sliding-window-counter", limit) for _ in range(3)] == [True, True, False]
    clock.now = 1030.0  # two windows later: nothing counts
    assert decide(store, clock, "sliding-window-counter", limit)


def test_memory_store_stays_under_its_key_cap_with_a_million_keys() -> None:
    limit = (Limit(5, 60, "5/min"),)
    store = MemoryStore(max_keys=10_000)
    acquire = store.acquire_now
    for i in range(1_000_000):
        acquire((f"k{i}",), limit, "fixed-window", 1, 1.0)
    assert len(store) == 10_000
    assert store.evictions == 990_000
    # Steady state: whatever new keys arrive, what stays allocated is bounded by the cap
    # (about 200 bytes per fixed-window entry), never by the number of keys seen.
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for i in range(20_000):
            acquire((f"x{i}",), limit, "fixed-window", 1, 1.0)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(store) == 10_000
    assert after - before < 10_000 * 400


@given(
    strategy=st.sampled_from(["fixed-window", "moving-window", "sliding-window-counter"]),
    amount=st.integers(1, 6),
    window=st.integers(1, 5),
    cost=st.integers(1, 3),
    gaps=st.lists(st.floats(0, 3, allow_nan=False), min_size=1, max_size=60),
)
def test_fallback_store_never_admits_more_than_the_limit_per_window(
    strategy: Strategy, amount: int, window: int, cost: int, gaps: list[float]
) -> None:
    store = MemoryStore()
    limit = Limit(amount, window, "x")
    now = 0.0
    admitted: list[float] = []
    anchors: list[float] = []  # fixed-window starts
    for gap in gaps:
        now += gap
        if strategy == "fixed-window" and (not anchors or now >= anchors[-1] + window):
            anchors.append(now)
        if store.acquire_now(("k",), (limit,), strategy, cost, now).allowed:
            admitted.extend([now] * cost)
    if strategy == "moving-window":  # any window-long interval
        for start in admitted:
            assert sum(1 for t in admitted if start <= t < start + window) <= amount
    elif strategy == "fixed-window":
        for start in anchors:
            assert sum(1 for t in admitted if start <= t < start + window) <= amount
    else:  # aligned windows
        for index in {int(t // window) for t in admitted}:
            assert sum(1 for t in admitted if index * window <= t < (index + 1) * window) <= amount


def test_import_hardening_ratelimit_imports_no_optional_dependency() -> None:
    import subprocess

    code = "import sys, hardening.ratelimit; assert 'limits' not in sys.modules and 'redis' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
