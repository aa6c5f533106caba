"""The CORS layer's fast paths answer exactly like the straightforward algorithm.

The middleware looks for ``Origin`` in one pass (``Access-Control-Request-Method`` only
on ``OPTIONS``), keeps the headers of allowed origins keyed by the raw header bytes,
and leaves a response whose header names are known to be plain to a copy with its
headers appended. These tests compare every response with a reference written the
plain way, and check the caches stay bounded and never touch the app's header list.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardening.cors import CORSConfig, CORSMiddleware, merge_vary
from hardening.cors import _middleware as cors_module
from hardening.cors._middleware import _Compiled
from tests.asgi_call import answering, call, http_scope

pytestmark = pytest.mark.anyio

APP = "https://app.example.com"
CONFIGS = {
    "listed": CORSConfig(
        allow_origins=[APP, "https://*.example.org", "null"],
        allow_origin_regex=[r"https://pr-[0-9]+\.preview\.example\.net", r"https://[^./]+\.example\.net"],
        allow_credentials=True,
    ),
    "wildcard": CORSConfig(allow_origins=["*"]),
    "default": CORSConfig(),
}
ORIGIN_VALUES = [
    APP.encode(),
    b"https://a.example.org",
    b"https://pr-7.preview.example.net",
    b"https://\xe9.example.net",
    b"https://evil.example",
    b"null",
    b"",
    b"HTTPS://APP.EXAMPLE.COM",
]
REQUEST_HEADERS = st.lists(
    st.one_of(
        st.tuples(st.just(b"origin"), st.sampled_from(ORIGIN_VALUES)),
        st.tuples(st.just(b"access-control-request-method"), st.sampled_from([b"GET", b"PUT", b"PROPFIND"])),
        st.tuples(st.sampled_from([b"accept", b"user-agent", b"Origin", b"x-request-id"]), st.just(b"v")),
    ),
    max_size=6,
)
RESPONSE_NAMES = [
    b"content-type",
    b"content-length",
    b"vary",
    b"Vary",
    b"VARY",
    b"access-control-allow-origin",
    b"Access-Control-Allow-Origin",
    b"ACCESS-CONTROL-EXPOSE-HEADERS",
    b"access-control-max-age",
    b"x-custom",
    b"access-control",
    b"varying",
]
RESPONSE_HEADERS = st.lists(
    st.tuples(st.sampled_from(RESPONSE_NAMES), st.sampled_from([b"Accept-Encoding", b"*", b"origin, Cookie", b"x"])),
    max_size=6,
)


def reference_edit(
    headers: list[tuple[bytes, bytes]], added: tuple[tuple[bytes, bytes], ...], vary_origin: bool
) -> list[tuple[bytes, bytes]]:
    """The response edit written plainly: drop the app's Access-Control-*, merge Vary."""
    kept: list[tuple[bytes, bytes]] = []
    has_vary = False
    for key, value in headers:
        lower = key.lower()
        if lower.startswith(b"access-control-"):
            continue
        has_vary = has_vary or lower == b"vary"
        kept.append((key, value))
    kept.extend(added)
    if vary_origin:
        kept = merge_vary(kept, ("Origin",)) if has_vary else [*kept, (b"vary", b"Origin")]
    return kept


@given(
    which=st.sampled_from(sorted(CONFIGS)),
    method=st.sampled_from(["GET", "OPTIONS", "POST"]),
    request_headers=REQUEST_HEADERS,
    response_headers=RESPONSE_HEADERS,
    shape=st.sampled_from(["list", "tuple", "generator"]),
)
async def test_every_response_matches_the_reference(
    which: str,
    method: str,
    request_headers: list[tuple[bytes, bytes]],
    response_headers: list[tuple[bytes, bytes]],
    shape: str,
) -> None:
    config = CONFIGS[which]
    ran: list[bool] = []
    sent: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        ran.append(True)
        headers: Any = list(response_headers)
        if shape == "tuple":
            headers = tuple(headers)
        elif shape == "generator":
            headers = (pair for pair in list(response_headers))
        sent.append(headers)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    middleware = CORSMiddleware(app, config)
    for _ in range(2):  # the second time through, every cache is warm
        ran.clear()
        result = await call(middleware, http_scope(method, headers=request_headers))
        origins = [value for key, value in request_headers if key == b"origin"]
        methods = [value for key, value in request_headers if key == b"access-control-request-method"]
        origin = None if not origins else origins[0].decode("latin-1") if len(origins) == 1 else ""
        if method == "OPTIONS" and origin is not None and methods:
            assert not ran  # a preflight, answered by the layer (details in test_cors.py)
            policy = _Compiled(config)
            allowed = policy.active and policy.allows(origin) and methods[-1].decode() in policy.methods
            assert result.status == (200 if allowed else 403)
            continue
        assert ran
        added = _Compiled(config).added_headers(origin)  # a fresh policy: nothing cached
        expected = reference_edit(list(response_headers), added, _Compiled(config).vary_origin)
        assert result.starts[0]["headers"] == expected
        if shape != "generator":
            assert list(sent[-1]) == response_headers  # the app's headers are never edited in place


async def test_the_app_reusing_one_header_list_gets_the_same_headers_every_time() -> None:
    shared = [(b"content-type", b"application/json"), (b"vary", b"Accept-Encoding")]
    snapshot = list(shared)

    app = answering(shared, b"{}")
    middleware = CORSMiddleware(app, CONFIGS["listed"])
    for _ in range(3):
        result = await call(middleware, http_scope(headers=[(b"origin", APP.encode())]))
        assert result.headers["access-control-allow-origin"] == APP
        assert result.headers["vary"] == "Accept-Encoding, Origin"
    assert shared == snapshot


@pytest.mark.parametrize(("methods", "status"), [((b"PROPFIND", b"GET"), 200), ((b"GET", b"PROPFIND"), 403)])
async def test_a_preflight_reads_the_last_request_method_field(methods: tuple[bytes, ...], status: int) -> None:
    headers = [(b"access-control-request-method", methods[0]), (b"origin", APP.encode())]
    headers.append((b"access-control-request-method", methods[1]))
    result = await call(CORSMiddleware(_unreachable, CONFIGS["listed"]), http_scope("OPTIONS", headers=headers))
    assert result.status == status


async def _unreachable(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - never run
    raise AssertionError


def test_added_headers_take_text_or_raw_bytes_alike() -> None:
    policy = _Compiled(CONFIGS["listed"])
    fresh = _Compiled(CONFIGS["listed"]).added_headers(APP.encode())
    assert policy.added_headers(APP) == policy.added_headers(APP.encode()) == fresh
    assert policy.added_headers(None) == policy.added_headers("https://evil.example") == ()
    assert list(policy.allowed_cache) == [APP.encode()]  # only allowed origins are kept


async def test_caches_stay_bounded_and_answers_stay_right_once_full() -> None:
    names: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(name, b"1") for name in names]})
        await send({"type": "http.response.body", "body": b""})

    middleware = CORSMiddleware(app, CONFIGS["listed"])
    policy = middleware._default
    for i in range(max(cors_module._ADDED_CACHE_SIZE, cors_module._NAME_CACHE_SIZE) + 50):
        names[:] = [f"x-name-{i}".encode()]
        origin = f"https://pr-{i}.preview.example.net".encode()
        result = await call(middleware, http_scope(headers=[(b"origin", origin)]))
        assert result.headers["access-control-allow-origin"] == origin.decode()
    assert len(policy.allowed_cache) <= cors_module._ADDED_CACHE_SIZE
    assert len(middleware._plain_names) <= cors_module._NAME_CACHE_SIZE
    # An origin and header names never seen before are still judged correctly.
    names[:] = [b"Access-Control-Allow-Origin", b"VARY", b"x-new"]
    origin = b"https://pr-99999.preview.example.net"
    result = await call(middleware, http_scope(headers=[(b"origin", origin)]))
    sent = result.starts[0]["headers"]
    assert [value for key, value in sent if key.lower() == b"access-control-allow-origin"] == [origin]
    assert [value for key, value in sent if key.lower() == b"vary"] == [b"1, Origin"]
    evil = await call(middleware, http_scope(headers=[(b"origin", b"https://evil.example")]))
    assert not [key for key, _ in evil.starts[0]["headers"] if key.lower().startswith(b"access-control-")]
