"""The body limit: 413 problem+json at once or as the body streams, never a 500."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from hardening import HardeningSettings
from hardening.bodylimit import CHECKS, DEFAULT_MAX_BYTES, BodyLimitConfig, BodyLimitMiddleware
from hardening.checks import Finding
from hardening.errorguard import ErrorGuardMiddleware
from hardening.problems import PROBLEM_CONTENT_TYPE, problem_type
from hardening.validation import install_problem_handlers
from tests.asgi_call import Result, call, http_scope
from tests.uvicorn_server import serve

MiB = 1024 * 1024


def _recording_app() -> tuple[Any, list[bytes]]:
    """A Starlette app whose ``/echo`` reads the whole body and records what it saw."""
    seen: list[bytes] = []

    async def echo(request: Request) -> Response:
        body = await request.body()
        seen.append(body)
        return JSONResponse({"length": len(body)})

    app = Starlette(routes=[Route("/{path:path}", echo, methods=["POST", "PUT", "GET"])])
    install_problem_handlers(app)
    return app, seen


def _assert_413(result: Result, limit: int) -> None:
    assert result.status == 413
    assert result.headers["content-type"] == PROBLEM_CONTENT_TYPE
    problem = result.json()
    assert problem["type"] == problem_type("body-too-large")
    assert problem["status"] == 413
    assert problem["max_bytes"] == limit
    assert result.complete


@pytest.mark.anyio
async def test_content_length_over_limit_is_refused_before_reading() -> None:
    """A declared length over the limit gets 413 without the app running or a receive()."""
    app, seen = _recording_app()
    scope = http_scope("POST", "/echo", headers=[(b"content-length", b"101")])
    result = await call(BodyLimitMiddleware(app, BodyLimitConfig(max_bytes=100)), scope, [b"x" * 101])
    _assert_413(result, 100)
    assert result.receive_calls == 0
    assert seen == []


@pytest.mark.anyio
async def test_body_at_the_limit_passes_byte_for_byte() -> None:
    """A body of exactly the limit, in odd chunks, reaches the app unchanged."""
    app, seen = _recording_app()
    body = bytes(range(256)) * 4
    chunks = [body[:1], body[1:500], body[500:]]
    result = await call(
        BodyLimitMiddleware(app, BodyLimitConfig(max_bytes=len(body))), http_scope("POST", "/echo"), chunks
    )
    assert result.status == 200
    assert seen == [body]


@pytest.mark.anyio
async def test_chunked_body_over_limit_gets_413_and_app_never_sees_more() -> None:
    """Without Content-Length the body is counted; the crossing chunk never reaches the app."""
    app, seen = _recording_app()
    result = await call(
        BodyLimitMiddleware(app, BodyLimitConfig(max_bytes=100)), http_scope("POST", "/echo"), [b"a" * 60] * 5
    )
    _assert_413(result, 100)
    assert seen == [], "the app's read failed (client gone) instead of seeing a truncated body"
    assert result.body_bytes_pulled == 120, "read no further than the chunk that crossed the limit"


@pytest.mark.anyio
async def test_lying_content_length_is_still_counted() -> None:
    """A small declared length does not let a larger body through."""
    app, seen = _recording_app()
    scope = http_scope("POST", "/echo", headers=[(b"content-length", b"10")])
    result = await call(BodyLimitMiddleware(app, BodyLimitConfig(max_bytes=100)), scope, [b"x" * 80, b"x" * 80])
    _assert_413(result, 100)
    assert seen == []


@pytest.mark.anyio
@pytest.mark.parametrize("value", [b"abc", b"-1", b"", b"1e3", b"12345678901234567890123", b"5, 5"])
async def test_invalid_content_length_is_a_400_problem(value: bytes) -> None:
    """A Content-Length that is not a number is a 400 and closes the connection."""
    app, _ = _recording_app()
    scope = http_scope("POST", "/echo", headers=[(b"content-length", value)])
    result = await call(BodyLimitMiddleware(app), scope, [b"x"])
    assert result.status == 400
    assert result.json()["type"] == problem_type("invalid-content-length")
    assert result.headers["connection"] == "close"


@pytest.mark.anyio
async def test_100_mb_streamed_to_1_mib_limit_holds_no_more_than_the_limit() -> None:
    """100 MB generated lazily is refused; the app and the process hold at most ~the limit."""
    app, seen = _recording_app()
    chunk_size = 64 * 1024
    pulled = 0

    def hundred_megabytes() -> Iterator[bytes]:
        nonlocal pulled
        for _ in range(100 * MiB // chunk_size):
            pulled += chunk_size
            yield b"x" * chunk_size

    guarded = ErrorGuardMiddleware(BodyLimitMiddleware(app, BodyLimitConfig(max_bytes=MiB)))
    tracemalloc.start()
    try:
        result = await call(guarded, http_scope("POST", "/upload"), hundred_megabytes())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    _assert_413(result, MiB)
    assert seen == []
    assert result.body_bytes_pulled <= MiB + chunk_size
    assert pulled <= MiB + 2 * chunk_size, "the harness looks one chunk ahead to set more_body"
    assert peak < MiB + 4 * chunk_size + 256 * 1024, f"peak {peak} bytes"


@pytest.mark.anyio
async def test_real_server_100_mb_chunked_upload_gets_413() -> None:
    """Through uvicorn, a chunked 100 MB upload gets a 413 and the app sees at most 1 MiB."""
    received = 0

    async def upload(request: Request) -> Response:
        nonlocal received
        async for chunk in request.stream():
            received += len(chunk)
        return JSONResponse({"received": received})

    app = ErrorGuardMiddleware(BodyLimitMiddleware(Starlette(routes=[Route("/up", upload, methods=["POST"])])))

    async def body() -> AsyncIterator[bytes]:
        chunk = b"x" * (64 * 1024)
        for _ in range(1600):
            yield chunk

    async with serve(app) as url, httpx.AsyncClient(timeout=30) as client:
        response = await client.post(f"{url}/up", content=body())
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert received <= DEFAULT_MAX_BYTES


@pytest.mark.anyio
async def test_fastapi_route_over_limit_is_413_problem() -> None:
    """A FastAPI endpoint reading the body gets the 413 problem, nothing escapes."""
    api = FastAPI()
    install_problem_handlers(api)

    @api.post("/items")
    async def create(request: Request) -> dict[str, int]:
        return {"length": len(await request.body())}

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 50

    app = ErrorGuardMiddleware(BodyLimitMiddleware(api, BodyLimitConfig(max_bytes=200)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        streamed = await client.post("/items", content=chunks())
        small = await client.post("/items", content=b"z" * 200)
    assert streamed.status_code == 413
    assert streamed.json()["type"] == problem_type("body-too-large")
    assert small.json() == {"length": 200}


@pytest.mark.anyio
async def test_limit_exceeded_after_response_started_ends_quietly() -> None:
    """If the app already answered, no 413 is possible: the app just sees a disconnect."""
    seen: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            message = await receive()
            seen.append(message)
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        await send({"type": "http.response.body", "body": b"ok"})

    result = await call(
        BodyLimitMiddleware(app, BodyLimitConfig(max_bytes=10)), http_scope("POST", "/"), [b"12345", b"67890", b"x"]
    )
    assert result.status == 200
    assert result.body == b"ok"
    assert [m["type"] for m in seen] == ["http.request", "http.request", "http.disconnect"]


@pytest.mark.anyio
async def test_app_reading_on_after_the_limit_only_gets_disconnects() -> None:
    """Every receive() after the cut-off is a disconnect; the app's own answer is dropped."""
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for _ in range(4):
            seen.append((await receive())["type"])
        await JSONResponse({"ignored": True})(scope, receive, send)

    result = await call(
        BodyLimitMiddleware(app, BodyLimitConfig(max_bytes=5)), http_scope("POST", "/"), [b"123", b"456", b"7"]
    )
    assert seen == ["http.request", "http.disconnect", "http.disconnect", "http.disconnect"]
    _assert_413(result, 5)
    assert len(result.messages) == 2
    assert result.body_bytes_pulled == 6


@pytest.mark.anyio
async def test_real_client_disconnect_is_not_ours_to_swallow() -> None:
    """A client that goes away under the limit: the disconnect and the app's reaction pass."""
    seen: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(await Request(scope, receive).body())

    messages: list[Message] = [{"type": "http.request", "body": b"12", "more_body": True}, {"type": "http.disconnect"}]

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        raise AssertionError("nothing is sent to a gone client")

    with pytest.raises(ClientDisconnect):
        await BodyLimitMiddleware(app, BodyLimitConfig(max_bytes=100))(http_scope("POST", "/echo"), receive, send)
    assert seen == []


@pytest.mark.anyio
async def test_app_error_unrelated_to_the_limit_still_propagates() -> None:
    """Only the app's reaction to the cut-off body is swallowed, not its own bugs."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await call(BodyLimitMiddleware(app, BodyLimitConfig(max_bytes=10)), http_scope("POST", "/"), [b"1234"])


@pytest.mark.anyio
async def test_non_http_scopes_pass_through() -> None:
    """Lifespan scopes reach the app untouched."""
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        return None

    await BodyLimitMiddleware(app)({"type": "lifespan"}, receive, send)
    assert seen == ["lifespan"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/login", 10),
        ("/login/x", 100),
        ("/uploads", None),
        ("/uploads/a/b", None),
        ("/uploads/big/x", 50),
        ("/uploadsX", 100),
        ("/items/42/photo", 1000),
        ("/items/42/43/photo", 100),
        ("/files/a/b/c.txt", 2000),
        ("/other", 100),
    ],
)
async def test_per_path_overrides(path: str, expected: int | None) -> None:
    """Exact paths and patterns beat prefixes; the longest prefix wins; null means no limit."""
    config = BodyLimitConfig(
        max_bytes=100,
        paths={
            "/login": 10,
            "/uploads/*": None,
            "/uploads/big/*": 50,
            "/items/{id}/photo": 1000,
            "/files/{rest:path}": 2000,
        },
    )
    app, _ = _recording_app()
    middleware = BodyLimitMiddleware(app, config)
    for size, fits in ((expected or 5000, True), ((expected or 0) + 1, False)):
        if not fits and expected is None:
            continue
        result = await call(
            middleware, http_scope("POST", path, headers=[(b"content-length", str(size).encode())]), [b"x" * size]
        )
        assert (result.status == 200) is fits, (path, size, result.status)


def test_config_parses_units_and_rejects_bad_values() -> None:
    """Sizes take units; bad keys and sizes fail naming the environment variable."""
    assert BodyLimitConfig(max_bytes="10MiB").max_bytes == 10 * MiB
    assert BodyLimitConfig().max_bytes == MiB
    with pytest.raises(ValidationError, match=r"(?s)^(?!.*HARDENING_).*\bmax_bytes\b"):
        BodyLimitConfig(max_bytes=0)
    with pytest.raises(ValidationError, match=r"(?s)^(?!.*HARDENING_).*\bpaths\b"):
        BodyLimitConfig(paths={"uploads": 5})
    with pytest.raises(ValidationError, match=r"(?s)^(?!.*HARDENING_).*\bpaths\b"):
        BodyLimitConfig(paths={"/a*b": 5})
    with pytest.raises(ValidationError, match=r"(?s)^(?!.*HARDENING_).*\bpaths\b"):
        BodyLimitConfig(paths={"/a": 0})


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``HARDENING_BODY_LIMIT__*`` variables configure the layer."""
    monkeypatch.setenv("HARDENING_BODY_LIMIT__MAX_BYTES", "2MiB")
    monkeypatch.setenv("HARDENING_BODY_LIMIT__PATHS", '{"/uploads/*": "50MiB", "/stream": null}')
    config = HardeningSettings().body_limit
    assert config.max_bytes == 2 * MiB
    assert config.paths == {"/uploads/*": 50 * MiB, "/stream": None}


def _findings(settings: HardeningSettings) -> list[Finding]:
    return [finding for check in CHECKS for finding in check(settings)]


def test_production_rules() -> None:
    """Disabled, huge and unlimited-path limits are flagged in production only."""
    assert _findings(HardeningSettings(environment="production")) == []
    assert _findings(HardeningSettings(environment="development", body_limit=BodyLimitConfig(enabled=False))) == []
    disabled = _findings(HardeningSettings(environment="production", body_limit=BodyLimitConfig(enabled=False)))
    assert [f.id for f in disabled] == ["HARDENING-BODY-001"]
    assert disabled[0].env_var == "HARDENING_BODY_LIMIT__ENABLED"
    big = BodyLimitConfig(max_bytes="200MiB", paths={"/stream": None, "/small": "1KiB"})
    ids = [f.id for f in _findings(HardeningSettings(environment="production", body_limit=big))]
    assert ids == ["HARDENING-BODY-002", "HARDENING-BODY-003"]


@pytest.mark.anyio
@given(
    limit=st.integers(min_value=1, max_value=300),
    chunks=st.lists(st.binary(max_size=120), max_size=8),
    declare=st.booleans(),
)
async def test_app_never_sees_more_than_the_limit(limit: int, chunks: list[bytes], declare: bool) -> None:
    """For any chunking: under the limit the app gets the exact body, over it a 413."""
    app, seen = _recording_app()
    total = sum(len(chunk) for chunk in chunks)
    headers = [(b"content-length", str(total).encode())] if declare else []
    result = await call(
        BodyLimitMiddleware(app, BodyLimitConfig(max_bytes=limit)), http_scope("PUT", "/echo", headers=headers), chunks
    )
    if total <= limit:
        assert result.status == 200
        assert seen == [b"".join(chunks)]
    else:
        _assert_413(result, limit)
        assert seen == []
        assert result.body_bytes_pulled <= limit + max(len(c) for c in chunks)


@pytest.mark.anyio
async def test_bodiless_http1_get_passes_the_callables_through() -> None:
    """A GET over HTTP/1.1 with no framing header has no body: no wrapper is added."""
    seen: list[tuple[Any, Any]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((receive, send))
        await Response("ok")(scope, receive, send)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    await BodyLimitMiddleware(app, BodyLimitConfig(max_bytes=10))(http_scope("GET", "/"), receive, send)
    assert seen == [(receive, send)]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "version", "headers"),
    [
        ("GET", "2", []),
        ("GET", "1.1", [(b"transfer-encoding", b"chunked")]),
        ("POST", "1.1", []),
    ],
)
async def test_bodies_without_content_length_are_still_counted(
    method: str, version: str, headers: list[tuple[bytes, bytes]]
) -> None:
    """HTTP/2, chunked requests and other methods keep the limit without Content-Length."""
    app, seen = _recording_app()
    scope = http_scope(method, "/echo", headers=headers)
    scope["http_version"] = version
    result = await call(BodyLimitMiddleware(app, BodyLimitConfig(max_bytes=100)), scope, [b"x" * 80, b"x" * 80])
    _assert_413(result, 100)
    assert seen == []
