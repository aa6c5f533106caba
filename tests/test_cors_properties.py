"""Properties of the CORS layer: no reflection of disallowed origins, no duplicated header."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardening.cors import CORSConfig, CORSMiddleware
from tests.asgi_call import call, http_scope

pytestmark = pytest.mark.anyio

CONFIG = CORSConfig(
    allow_origins=["https://app.example.com", "https://*.example.org", "http://localhost:3000"],
    allow_origin_regex=[r"https://pr-[0-9]+\.preview\.example\.net"],
    allow_credentials=True,
)
MIDDLEWARE_APP_HEADERS = [
    (b"vary", b"Accept-Encoding"),
    (b"access-control-allow-origin", b"*"),
    (b"content-type", b"text/plain"),
]


def oracle(origin: str) -> bool:
    """An independent statement of CONFIG's allow-list."""
    if origin in ("https://app.example.com", "http://localhost:3000"):
        return True
    if re.fullmatch(r"https://([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+example\.org", origin):
        return True
    return re.fullmatch(r"https://pr-[0-9]+\.preview\.example\.net", origin) is not None


async def app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": list(MIDDLEWARE_APP_HEADERS)})
    await send({"type": "http.response.body", "body": b"x"})


MIDDLEWARE = CORSMiddleware(app, CONFIG)

_PIECES = st.sampled_from(
    [
        "https://",
        "http://",
        "app.",
        "example.",
        "org",
        "com",
        "net",
        "evil",
        ".",
        ":3000",
        ":443",
        "@",
        "/",
        "%60",
        "localhost",
        "pr-1",
        "preview.",
        "a-",
        "-b",
        "null",
        " ",
        ",",
        "*",
        "EXAMPLE",
    ]
)
ORIGINS = st.one_of(
    st.lists(_PIECES, min_size=1, max_size=8).map("".join),
    st.text(max_size=40).filter(lambda s: s.isascii()),
    st.sampled_from(["https://app.example.com", "https://a.example.org", "https://pr-12.preview.example.net"]),
)


def assert_no_duplicates(headers: list[tuple[bytes, bytes]]) -> None:
    names = [name.lower() for name, _ in headers]
    assert len(names) == len(set(names)), names


@given(origin=ORIGINS)
async def test_a_disallowed_origin_is_never_reflected(origin: str) -> None:
    result = await call(MIDDLEWARE, http_scope(headers=[(b"origin", origin.encode("latin-1"))]))
    headers = result.starts[0]["headers"]
    assert_no_duplicates(headers)
    acao = [v for k, v in headers if k == b"access-control-allow-origin"]
    if oracle(origin):
        assert acao == [origin.encode()]
    else:
        assert acao == []
        assert not [k for k, _ in headers if k.startswith(b"access-control-")]
    assert dict(headers)[b"vary"] == b"Accept-Encoding, Origin"


@given(
    origin=ORIGINS,
    method=st.sampled_from(["GET", "PUT", "put", "PROPFIND", "DELETE"]),
    request_headers=st.lists(st.sampled_from(["content-type", "X-Request-ID", "x-evil", "", " "]), max_size=4),
    private_network=st.booleans(),
)
async def test_preflight_allows_only_what_is_configured(
    origin: str, method: str, request_headers: list[str], private_network: bool
) -> None:
    headers = [(b"origin", origin.encode("latin-1")), (b"access-control-request-method", method.encode())]
    if request_headers:
        headers.append((b"access-control-request-headers", ",".join(request_headers).encode()))
    if private_network:
        headers.append((b"access-control-request-private-network", b"true"))
    result = await call(MIDDLEWARE, http_scope("OPTIONS", headers=headers))
    response = result.starts[0]["headers"]
    assert_no_duplicates(response)
    allowed = (
        oracle(origin)
        and method in ("GET", "PUT", "DELETE")
        and all(h.strip().lower() in ("content-type", "x-request-id", "") for h in request_headers)
        and not private_network
    )
    assert result.status == (200 if allowed else 403)
    if allowed:
        assert dict(response)[b"access-control-allow-origin"] == origin.encode()
    else:
        assert not [k for k, _ in response if k.startswith(b"access-control-")]
