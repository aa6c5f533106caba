"""The security-headers layer's fast path edits exactly like the general path.

A response whose header names are all known to be plain (cached per spelling) gets the
precomputed tail of its profile; the HTTPS test, the content-type classification and
the forced path profile are cached or pre-checked. None of that may change a header:
these tests compare the fast path with the general one (and with reference versions of
the per-request decisions), and check that the caches stay bounded and never edit the
app's own header list.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardening._asgi import get_header
from hardening.clientip import ClientResolver
from hardening.headers import SecurityHeadersConfig, SecurityHeadersMiddleware
from hardening.headers import _middleware as headers_module
from hardening.headers._middleware import is_local_host
from hardening.headers._profile import ProfileName
from tests.asgi_call import answering, call, http_scope
from tests.extras import import_extra

import_extra("secure", "hardening[headers]")

pytestmark = [pytest.mark.needs_extras]

NONCE = "AAAAAAAAAAAAAAAAAAAAAAAA"


async def _no_app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - never run
    raise AssertionError


MIDDLEWARES = {
    "defaults": SecurityHeadersMiddleware(_no_app),
    "override": SecurityHeadersMiddleware(
        _no_app,
        SecurityHeadersConfig(
            override=("x-frame-options", "content-security-policy", "cache-control"),
            webapp={"extra": {"X-Extra": "1"}},
        ),
    ),
    "no nonce": SecurityHeadersMiddleware(_no_app, SecurityHeadersConfig(webapp={"csp": "default-src 'self'"})),
}

NAMES = [
    b"content-type",
    b"Content-Type",
    b"CONTENT-TYPE",
    b"content-length",
    b"Content-Length",
    b"server",
    b"Server",
    b"x-powered-by",
    b"X-AspNet-Version",
    b"x-frame-options",
    b"X-Frame-Options",
    b"content-security-policy",
    b"Content-Security-Policy",
    b"content-security-policy-report-only",
    b"cache-control",
    b"Cache-Control",
    b"etag",
    b"Last-Modified",
    b"strict-transport-security",
    b"x-extra",
    b"vary",
    b"set-cookie",
    b"x-custom",
    b"123",
]
VALUES = [
    b"application/json",
    b"text/html",
    b"TEXT/HTML; charset=utf-8",
    b" application/xhtml+xml ",
    b"no-store",
    b"public, max-age=60",
    b"default-src 'self'",
    b"x",
    b"",
]
HEADERS = st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(VALUES)), max_size=8)


def reference_secure(scope: dict[str, Any]) -> bool:
    """The HTTPS test as written before the fast path (resolver, first Host, else server)."""
    if ClientResolver(None).scheme(scope) != "https":
        return False
    host = get_header(scope.get("headers", ()), b"host")
    if host is None:
        server = scope.get("server")
        return not (server and is_local_host(str(server[0])))
    return not is_local_host(host.decode("latin-1"))


def reference_forced(path: str, root: str, path_profiles: dict[str, ProfileName]) -> ProfileName | None:
    """The path profile as written before the pre-check."""
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    for prefix, name in sorted(path_profiles.items(), key=lambda item: len(item[0]), reverse=True):
        if prefix == "/" or path == prefix or path.startswith(prefix + "/"):
            return name
    return None


@given(
    which=st.sampled_from(sorted(MIDDLEWARES)),
    headers=HEADERS,
    as_tuple=st.booleans(),
    scheme=st.sampled_from(["https", "http", None]),
    host=st.sampled_from([b"api.example.com", b"localhost:8443", b"127.0.0.1", b"[::1]", b"LOCALHOST", None]),
    server=st.sampled_from([("127.0.0.1", 443), ("203.0.113.9", 443), None]),
    status=st.sampled_from([200, 304, 404]),
    forced=st.sampled_from([None, "api", "webapp", "docs"]),
    nonce=st.sampled_from([NONCE, None]),
)
def test_the_fast_path_edits_like_the_general_path(
    which: str,
    headers: list[tuple[bytes, bytes]],
    as_tuple: bool,
    scheme: str | None,
    host: bytes | None,
    server: tuple[str, int] | None,
    status: int,
    forced: Any,
    nonce: str | None,
) -> None:
    middleware = MIDDLEWARES[which]
    scope: dict[str, Any] = {"type": "http", "headers": [(b"accept", b"*/*")]}
    if scheme is not None:
        scope["scheme"] = scheme
    if host is not None:
        scope["headers"].append((b"host", host))
    if server is not None:
        scope["server"] = server
    app_headers = tuple(headers) if as_tuple else list(headers)
    original = list(headers)
    secure = reference_secure(scope)
    for _ in range(2):  # the second time through, every cache is warm
        fast = {"type": "http.response.start", "status": status, "headers": app_headers}
        middleware._edit(fast, scope, forced, nonce)
        general = {"type": "http.response.start", "status": status, "headers": list(original)}
        middleware._edit_general(general, list(original), secure, forced, nonce)
        assert fast["headers"] == general["headers"]
        assert fast["headers"] is not app_headers
        assert list(app_headers) == original  # the app's list is never edited in place


@pytest.mark.parametrize(
    ("first", "second", "html"),
    [
        (b"text/html", b"application/json", True),
        (b"application/json", b"text/html", False),
        (b"Text/HTML; charset=utf-8", b"text/plain", True),
    ],
)
def test_the_first_content_type_decides_the_profile(first: bytes, second: bytes, html: bool) -> None:
    middleware = MIDDLEWARES["defaults"]
    scope = http_scope()
    for names in ((b"content-type", b"content-type"), (b"Content-Type", b"content-type")):
        headers = [(names[0], first), (names[1], second)]
        message: dict[str, Any] = {"type": "http.response.start", "status": 200, "headers": headers}
        middleware._edit(message, scope, None, NONCE)
        csp = dict(message["headers"])[b"content-security-policy"]
        assert (f"'nonce-{NONCE}'".encode() in csp) is html


def test_a_message_without_headers_or_with_a_generator_gets_the_same_headers() -> None:
    middleware = MIDDLEWARES["defaults"]
    scope = http_scope(headers=[(b"host", b"api.example.com")])
    scope["scheme"] = "https"
    expected = {"type": "http.response.start", "status": 200, "headers": []}
    middleware._edit_general(expected, [], True, None, None)
    bare: dict[str, Any] = {"type": "http.response.start", "status": 200}
    none: dict[str, Any] = {"type": "http.response.start", "status": 200, "headers": None}
    for message in (bare, none):
        middleware._edit(message, scope, None, None)
        assert message["headers"] == expected["headers"]
    lazy: dict[str, Any] = {
        "type": "http.response.start",
        "status": 200,
        "headers": (pair for pair in [(b"content-type", b"text/plain"), (b"Server", b"x")]),
    }
    middleware._edit(lazy, scope, None, None)
    assert lazy["headers"][0] == (b"content-type", b"text/plain")
    assert all(name.lower() != b"server" for name, _ in lazy["headers"])
    assert (b"strict-transport-security", b"max-age=63072000; includeSubDomains") in lazy["headers"]


@pytest.mark.parametrize(
    ("path_profiles", "root"),
    [
        ({"/docs": "docs", "/redoc": "docs"}, ""),
        ({"/docs": "docs", "/redoc": "docs"}, "/app"),
        ({"/": "docs", "/api": "api"}, ""),
        ({"/a/b": "docs", "/x": "webapp"}, "/x"),
        ({}, ""),
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        *("/", "", "/d", "/docs", "/docs/", "/docs/oauth2-redirect", "/docsearch", "/redoc", "/app/docs", "/app"),
        *("/a/b/c", "/a/bc", "/x", "/x/a/b", "/api", "/api/x", "/items/42"),
    ],
)
@pytest.mark.anyio
async def test_the_path_profile_pre_check_agrees_with_the_full_match(
    path_profiles: dict[str, ProfileName], root: str, path: str
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})

    middleware = SecurityHeadersMiddleware(app, SecurityHeadersConfig(path_profiles=path_profiles))
    scope = http_scope(path="/")
    scope["path"], scope["root_path"] = path, root
    result = await call(middleware, scope)
    kind = reference_forced(path, root, path_profiles) or "api"
    expected = dict(middleware._plain_tails[kind] or ())
    assert result.headers["content-security-policy"] == expected[b"content-security-policy"].decode()


@pytest.mark.anyio
async def test_the_app_reusing_one_header_list_gets_the_same_headers_every_time() -> None:
    shared = [(b"content-type", b"text/html; charset=utf-8"), (b"x-custom", b"1")]
    snapshot = list(shared)

    app = answering(shared, b"<p>x</p>")
    middleware = SecurityHeadersMiddleware(app)
    results = [await call(middleware, http_scope()) for _ in range(3)]
    assert shared == snapshot
    for result in results:
        names = [name for name, _ in result.starts[0]["headers"]]
        assert len(names) == len(set(names))
        assert result.headers["content-security-policy"].count("'nonce-") == 2
    nonces = {result.headers["content-security-policy"] for result in results}
    assert len(nonces) == 3  # a fresh nonce for every response


@pytest.mark.anyio
async def test_the_https_test_is_made_per_request_whatever_was_seen_before() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = SecurityHeadersMiddleware(app)
    cases = [
        ([(b"host", b"api.example.com")], ("10.0.0.1", 443), True),
        ([(b"host", b"localhost:8443")], ("10.0.0.1", 443), False),
        ([(b"host", b"api.example.com")], ("127.0.0.1", 443), True),
        ([], ("127.0.0.1", 443), False),  # no Host: the server address counts, every time
        ([], ("203.0.113.9", 443), True),
        ([], ("127.0.0.1", 443), False),
        ([(b"host", b"localhost:8443")], ("203.0.113.9", 443), False),
    ]
    for headers, server, hsts in cases * 2:
        scope = http_scope()
        scope.update(scheme="https", headers=headers, server=server)
        result = await call(middleware, scope)
        assert ("strict-transport-security" in result.headers) is hsts, (headers, server)
    assert None not in middleware._secure_hosts


@pytest.mark.anyio
async def test_caches_stay_bounded_and_decisions_stay_right_once_full() -> None:
    size = headers_module._CACHE_SIZE
    extra: list[tuple[bytes, bytes]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(extra)})
        await send({"type": "http.response.body", "body": b""})

    middleware = SecurityHeadersMiddleware(app)
    for i in range(size + 50):
        extra[:] = [(f"x-name-{i}".encode(), b"1"), (b"content-type", f"text/plain; v={i}".encode())]
        scope = http_scope()
        scope.update(scheme="https", headers=[(b"host", f"h{i}.example.com".encode())])
        await call(middleware, scope)
    assert len(middleware._plain_names) <= size
    assert len(middleware._name_codes) <= size
    assert len(middleware._kinds) <= size
    assert len(middleware._secure_hosts) <= size
    # Names, content types and hosts never seen before are still judged correctly.
    extra[:] = [(b"SeRvEr", b"leak"), (b"Content-TYPE", b"Text/HTML"), (b"X-Frame-Options", b"SAMEORIGIN")]
    scope = http_scope()
    scope.update(scheme="https", headers=[(b"host", b"LocalHost")])
    result = await call(middleware, scope)
    sent = [name.lower() for name, _ in result.starts[0]["headers"]]
    assert b"server" not in sent
    assert sent.count(b"x-frame-options") == 1
    assert result.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "'nonce-" in result.headers["content-security-policy"]  # classified as HTML
    assert "strict-transport-security" not in result.headers
