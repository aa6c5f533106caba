"""Fuzz the whole ``harden()`` stack: no layer ever raises or answers 500 on its own.

Random methods, paths, headers (invalid bytes included), query strings and bodies (sent
with a Content-Length, chunked, or with none) go through every layer that exists, in
front of a Starlette app and a FastAPI app. Whatever comes back must be a complete,
single response; every error must be a valid ``application/problem+json`` document; the
only 500 allowed is the one from the route that raises on purpose.
"""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from hardening import HardeningSettings, harden
from hardening.bodylimit import BodyLimitConfig
from hardening.problems import PROBLEM_CONTENT_TYPE
from hardening.ratelimit import RateLimitConfig
from hardening.validation import install_problem_handlers, validate
from tests.asgi_call import Result, call, http_scope
from tests.extras import import_extra

import_extra("secure", "hardening[headers]")
import_extra("limits", "hardening[ratelimit]")

pytestmark = pytest.mark.needs_extras

BODY_LIMIT = 512
BOOM = "/boom"
SETTINGS = HardeningSettings(environment="test", body_limit=BodyLimitConfig(max_bytes=BODY_LIMIT))


class Login(BaseModel):
    """A JSON body."""

    user: str = Field(min_length=1, max_length=50)
    password: str = Field(min_length=8)


class Search(BaseModel):
    """A query string."""

    q: str = ""
    limit: int = Field(default=10, ge=1, le=100)
    tag: list[str] = []


class ItemId(BaseModel):
    """Path parameters."""

    item_id: int = Field(gt=0)


async def home(request: Request) -> Response:
    return PlainTextResponse("home")


@validate(body=Login)
async def login(request: Request, body: Login) -> Response:
    return JSONResponse({"user": body.user})


@validate(query=Search)
async def search(request: Request, query: Search) -> Response:
    return JSONResponse({"q": query.q, "limit": query.limit})


@validate(path=ItemId)
async def item(request: Request, path: ItemId) -> Response:
    return JSONResponse({"item_id": path.item_id})


async def echo(request: Request) -> Response:
    return JSONResponse({"length": len(await request.body())})


async def stream(request: Request) -> Response:
    async def parts() -> Any:
        for part in (b"a", b"b", b"c"):
            yield part

    return StreamingResponse(parts(), media_type="text/plain")


async def boom(request: Request) -> Response:
    raise RuntimeError("deliberate failure")


def _starlette() -> Starlette:
    app = Starlette(
        routes=[
            Route("/", home),
            Route("/login", login, methods=["POST"]),
            Route("/search", search),
            Route("/items/{item_id}", item),
            Route("/echo", echo, methods=["POST", "PUT", "PATCH"]),
            Route("/stream", stream),
            Route(BOOM, boom, methods=["GET", "POST"]),
        ]
    )
    install_problem_handlers(app)
    return app


def _fastapi() -> FastAPI:
    api = FastAPI(openapi_url=None)

    @api.get("/")
    async def fast_home() -> dict[str, str]:
        return {"hello": "world"}

    @api.post("/login")
    async def fast_login(body: Login) -> dict[str, str]:
        return {"user": body.user}

    @api.get("/search")
    async def fast_search(q: str = "", limit: int = 10) -> dict[str, Any]:
        return {"q": q, "limit": limit}

    @api.get("/items/{item_id}")
    async def fast_item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @api.api_route("/echo", methods=["POST", "PUT", "PATCH"])
    async def fast_echo(request: Request) -> dict[str, int]:
        return {"length": len(await request.body())}

    @api.api_route(BOOM, methods=["GET", "POST"])
    async def fast_boom() -> None:
        raise RuntimeError("deliberate failure")

    install_problem_handlers(api)
    return api


STACKS: dict[str, ASGIApp] = {"starlette": harden(_starlette(), SETTINGS), "fastapi": harden(_fastapi(), SETTINGS)}
# The fuzz runs hundreds of requests from one client, so it meets the rate limiter too;
# the targeted tests below use a stack without it, so their answers are deterministic.
UNLIMITED = SETTINGS.model_copy(update={"rate_limit": RateLimitConfig(enabled=False)})
QUIET_STACKS: dict[str, ASGIApp] = {
    "starlette": harden(_starlette(), UNLIMITED),
    "fastapi": harden(_fastapi(), UNLIMITED),
}

KNOWN_PATHS = ("/", "/login", "/search", "/items/7", "/items/0", "/items/x", "/echo", "/stream", BOOM, "/nope", "//")
HEADER_NAMES = (
    b"content-type",
    b"content-length",
    b"host",
    b"origin",
    b"x-request-id",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"forwarded",
    b"cookie",
    b"accept",
    b"authorization",
    b"access-control-request-method",
    b"access-control-request-headers",
    b"sec-fetch-site",
    b"sec-fetch-mode",
    b"traceparent",
    b"user-agent",
    b"transfer-encoding",
)
INTERESTING_VALUES = (
    b"application/json",
    b"application/json; charset=utf-8",
    b"text/plain",
    b"testserver",
    b"https://example.com",
    b"null",
    b"cross-site",
    b"-1",
    b"99999999999999999999",
    b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
)

methods = st.one_of(
    st.sampled_from(["GET", "POST", "PUT"]),
    st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]),
    st.text(alphabet=string.ascii_uppercase, min_size=1, max_size=10),
)
paths = st.one_of(
    st.sampled_from(["/echo", "/login", "/search", "/items/7"]),
    st.sampled_from(KNOWN_PATHS),
    st.builds(
        lambda segments: "/" + "/".join(segments),
        st.lists(st.text(st.characters(exclude_categories=["Cs"]), max_size=12), max_size=4),
    ),
)
header_values = st.one_of(st.sampled_from(INTERESTING_VALUES), st.binary(max_size=80))
header_names = st.one_of(st.sampled_from(HEADER_NAMES), st.binary(min_size=1, max_size=20).map(bytes.lower))
headers = st.lists(st.tuples(header_names, header_values), max_size=6)
json_bodies = st.builds(
    lambda value: [json.dumps(value).encode()],
    st.fixed_dictionaries({"user": st.text(max_size=60), "password": st.text(max_size=20)}),
)
bodies = st.one_of(
    st.lists(st.binary(max_size=400), max_size=4),
    st.lists(st.binary(min_size=200, max_size=400), min_size=2, max_size=4),
    json_bodies,
)
clients = st.one_of(st.just("127.0.0.1"), st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str))
framing = st.sampled_from(["length", "chunked", "none"])


def _check(result: Result, method: str, path: str) -> None:
    """The invariants every response must meet."""
    assert len(result.starts) == 1, result.messages
    assert result.complete, result.messages
    status = result.status
    if status == 500:
        assert path == BOOM, f"unexpected 500 for {method} {path!r}: {result.body[:300]!r}"
    if status < 400:
        return
    assert result.headers.get("content-type") == PROBLEM_CONTENT_TYPE, (status, result.headers, result.body[:200])
    if method == "HEAD":
        return
    problem = json.loads(result.body)
    assert isinstance(problem, dict)
    assert problem["status"] == status
    assert isinstance(problem["type"], str)
    assert problem["type"]
    assert isinstance(problem["title"], str)
    if "detail" in problem:
        assert isinstance(problem["detail"], str)
    if status == 500:
        assert "deliberate failure" not in result.body.decode()


@pytest.mark.anyio
@pytest.mark.parametrize("stack", sorted(STACKS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=methods,
    path=paths,
    extra_headers=headers,
    query=st.binary(max_size=60),
    chunks=bodies,
    how=framing,
    client=clients,
)
async def test_stack_never_fails_and_errors_are_problems(
    stack: str,
    method: str,
    path: str,
    extra_headers: list[tuple[bytes, bytes]],
    query: bytes,
    chunks: list[bytes],
    how: str,
    client: str,
) -> None:
    """Any request gets one complete response; errors are problem documents; no stray 500."""
    request_headers = list(extra_headers)
    if how == "length":
        request_headers = [(k, v) for k, v in request_headers if k != b"content-length"]
        request_headers.append((b"content-length", str(sum(map(len, chunks))).encode()))
    scope = http_scope(method, path, headers=request_headers, query_string=query, client=(client, 40000))
    result = await call(STACKS[stack], scope, chunks if how != "none" else ())
    _check(result, method, path)
    event(f"status {result.status}")
    if result.status in {400, 403} and method != "HEAD":
        event(f"{result.status} {json.loads(result.body)['type']}")


@pytest.mark.anyio
@pytest.mark.parametrize("stack", sorted(STACKS))
async def test_deliberate_500_is_a_safe_problem(stack: str) -> None:
    """The route that raises gets a problem 500 with no exception text."""
    result = await call(QUIET_STACKS[stack], http_scope("GET", BOOM))
    assert result.status == 500
    _check(result, "GET", BOOM)


@pytest.mark.anyio
@pytest.mark.parametrize("stack", sorted(STACKS))
async def test_oversized_body_through_the_stack_is_413(stack: str) -> None:
    """A chunked body over the limit meets the body-limit layer inside the full stack."""
    result = await call(QUIET_STACKS[stack], http_scope("POST", "/echo"), [b"x" * 200] * 4)
    assert result.status == 413
    _check(result, "POST", "/echo")
