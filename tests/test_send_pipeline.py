"""The shared send pipeline: one ``send`` wrapper per request for every hardening layer.

The unit tests drive :class:`SendPipeline` with plain hook functions and a recording
server ``send``; the integration tests check what the layers built on it send: every
layer's edit exactly once, a second pipeline behind a foreign wrapper, a hook that ends
with its layer, the error guard's and the body limit's replacements, and the access
log's ``disconnected`` flag when the server's ``send`` fails.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Iterator
from logging.handlers import BufferingHandler
from typing import Any, Literal

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hardening import HardeningSettings, harden
from hardening._asgi import SEND_PIPELINE_KEY, SendHook, SendPipeline, send_pipeline
from hardening.cors import CORSConfig, CORSMiddleware
from hardening.headers import SecurityHeadersMiddleware
from hardening.logs import ACCESS_LOGGER, AccessLogMiddleware, RequestIdMiddleware
from tests.asgi_call import Result, call, http_scope
from tests.extras import import_extra

ORIGIN = "https://app.example.com"
START: Message = {"type": "http.response.start", "status": 200, "headers": []}


# ----------------------------------------------------------------------------- unit


class Recorder:
    """A server ``send`` that records every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)


def tagger(name: str, calls: list[str] | None = None) -> SendHook:
    """A hook that appends ``name`` to the message's ``trail`` and passes it on."""

    def hook(message: Message) -> None:
        message.setdefault("trail", []).append(name)
        if calls is not None:
            calls.append(name)

    return hook


def body(text: bytes, *, more: bool = False) -> Message:
    return {"type": "http.response.body", "body": text, "more_body": more}


@pytest.mark.anyio
async def test_hooks_run_innermost_first() -> None:
    raw = Recorder()
    pipeline = SendPipeline(raw)
    assert pipeline.add(tagger("outer")) == 0
    assert pipeline.add(tagger("middle")) == 1
    assert pipeline.add(tagger("inner")) == 2

    await pipeline.send({"type": "http.response.start", "status": 200, "headers": []})
    await pipeline.send(body(b"x"))

    assert [m["trail"] for m in raw.messages] == [["inner", "middle", "outer"]] * 2
    assert [m["type"] for m in raw.messages] == ["http.response.start", "http.response.body"]


@pytest.mark.anyio
async def test_hook_returning_false_stops_the_message() -> None:
    raw = Recorder()
    outer_calls: list[str] = []
    pipeline = SendPipeline(raw)
    pipeline.add(tagger("outer", outer_calls))

    def drop_bodies(message: Message) -> Literal[False] | None:
        return False if message["type"] == "http.response.body" else None

    pipeline.add(drop_bodies)
    await pipeline.send(dict(START))
    await pipeline.send(body(b"dropped"))

    assert [m["type"] for m in raw.messages] == ["http.response.start"]
    assert outer_calls == ["outer"]  # the outer hook never saw the stopped body either


@pytest.mark.anyio
async def test_hook_returning_an_awaitable_replaces_the_message() -> None:
    raw = Recorder()
    outer_calls: list[str] = []
    ran: list[Message] = []
    pipeline = SendPipeline(raw)
    pipeline.add(tagger("outer", outer_calls))

    async def replacement(original: Message) -> None:
        ran.append(original)
        await pipeline.send_from(1, {"type": "http.response.start", "status": 503, "headers": []})

    def replace_500(message: Message) -> Awaitable[None] | None:
        if message.get("status") == 500:
            return replacement(message)
        return None

    pipeline.add(replace_500)
    await pipeline.send({"type": "http.response.start", "status": 500, "headers": []})

    assert [m["status"] for m in ran] == [500]
    assert [(m["status"], m["trail"]) for m in raw.messages] == [(503, ["outer"])]
    assert outer_calls == ["outer"]  # the original 500 never reached the outer hook


@pytest.mark.anyio
async def test_send_from_applies_only_the_outer_hooks() -> None:
    raw = Recorder()
    pipeline = SendPipeline(raw)
    for name in ("h0", "h1", "h2"):
        pipeline.add(tagger(name))

    for position in range(4):
        await pipeline.send_from(position, body(str(position).encode()))

    assert [m.get("trail", []) for m in raw.messages] == [[], ["h0"], ["h1", "h0"], ["h2", "h1", "h0"]]
    assert len(pipeline.hooks) == 3  # sending changes no hook


@pytest.mark.anyio
async def test_release_removes_the_hook_and_every_inner_one() -> None:
    raw = Recorder()
    pipeline = SendPipeline(raw)
    h0, h1, h2 = tagger("h0"), tagger("h1"), tagger("h2")
    pipeline.add(h0)
    position = pipeline.add(h1)
    pipeline.add(h2)

    pipeline.release(position)
    assert pipeline.hooks == [h0]
    await pipeline.send(body(b""))
    assert raw.messages[-1]["trail"] == ["h0"]

    assert pipeline.add(tagger("again")) == 1  # the released position is reused
    pipeline.release(0)
    assert pipeline.hooks == []
    await pipeline.send(body(b""))
    assert "trail" not in raw.messages[-1]


@pytest.mark.anyio
async def test_failed_is_set_when_the_server_send_raises_oserror() -> None:
    async def broken(message: Message) -> None:
        raise ConnectionResetError("connection reset by peer")

    pipeline = SendPipeline(broken)
    pipeline.add(tagger("h0"))
    assert pipeline.failed is False
    with pytest.raises(ConnectionResetError, match="reset by peer"):
        await pipeline.send(dict(START))
    assert pipeline.failed is True


@pytest.mark.anyio
async def test_failed_stays_false_for_other_exceptions() -> None:
    async def buggy(message: Message) -> None:
        raise RuntimeError("not a network error")

    pipeline = SendPipeline(buggy)
    with pytest.raises(RuntimeError, match="not a network error"):
        await pipeline.send(dict(START))
    assert pipeline.failed is False


@pytest.mark.anyio
async def test_send_pipeline_joins_its_own_send_and_starts_one_for_any_other() -> None:
    raw = Recorder()
    other = Recorder()
    scope: Scope = {"type": "http"}

    first = send_pipeline(scope, raw)
    assert scope[SEND_PIPELINE_KEY] is first
    assert send_pipeline(scope, first.send) is first  # an inner layer joins

    second = send_pipeline(scope, other)  # a send that is not the pipeline's: a new one
    assert second is not first
    assert scope[SEND_PIPELINE_KEY] is second
    await second.send(body(b"to other"))
    assert [m["body"] for m in other.messages] == [b"to other"]
    assert raw.messages == []

    # The raw send of a pipeline is not its ``send``: a layer given it starts afresh.
    assert send_pipeline(scope, raw) is not first
    # The send of a pipeline that is no longer the scope's: joining it is not possible.
    assert send_pipeline(scope, first.send) is not first


Action = Literal["tag", "stop", "replace"]


STACKS = st.lists(st.sampled_from(["tag", "stop", "replace"]), max_size=6).flatmap(
    lambda actions: st.tuples(st.just(actions), st.integers(0, len(actions)))
)
"""A stack of hook actions, outermost first, and the position to send from."""


@given(STACKS)
@pytest.mark.anyio
async def test_pipeline_sends_what_nested_wrappers_send(stack: tuple[list[Action], int]) -> None:
    """Any stack of hooks, sent from any position, matches the same stack of send wrappers."""
    actions, position = stack
    raw_pipeline, raw_wrappers = Recorder(), Recorder()

    pipeline = SendPipeline(raw_pipeline)
    for index, action in enumerate(actions):
        pipeline.add(_hook(index, action, pipeline))
    await pipeline.send_from(position, body(b"m"))

    wrapped: Send = raw_wrappers
    for index, action in enumerate(actions[:position]):
        wrapped = _wrapper(index, action, wrapped)
    await wrapped(body(b"m"))

    assert raw_pipeline.messages == raw_wrappers.messages


def _hook(index: int, action: Action, pipeline: SendPipeline) -> SendHook:
    def hook(message: Message) -> Awaitable[None] | Literal[False] | None:
        message.setdefault("trail", []).append(index)
        if action == "stop":
            return False
        if action == "replace":
            return pipeline.send_from(index, {**message, "body": message["body"] + b"!"})
        return None

    return hook


def _wrapper(index: int, action: Action, send: Send) -> Send:
    async def wrapper(message: Message) -> None:
        message.setdefault("trail", []).append(index)
        if action == "stop":
            return
        if action == "replace":
            message = {**message, "body": message["body"] + b"!"}
        await send(message)

    return wrapper


# ----------------------------------------------------------------------------- integration


@pytest.fixture
def extras() -> None:
    """Skip (or fail in CI) when the security-header or rate-limit extras are missing."""
    import_extra("secure", "hardening[headers]")
    import_extra("limits", "hardening[ratelimit]")


def full_settings(**overrides: Any) -> HardeningSettings:
    data: dict[str, Any] = {
        "environment": "production",
        "hosts": {"allowed_hosts": ["testserver"]},
        "cors": {"allow_origins": [ORIGIN]},
        "rate_limit": {"storage_uri": "async+memory://", "default_limits": "100/minute"},
    }
    data.update(overrides)
    return HardeningSettings.model_validate(data)


def client(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def once(response: httpx.Response | Result, *names: str) -> None:
    """Assert that each header in ``names`` is present exactly once."""
    if isinstance(response, Result):
        [start] = response.starts
        sent = [key.decode("latin-1").lower() for key, _ in start["headers"]]
    else:
        sent = [key.lower() for key, _ in response.headers.multi_items()]
    for name in names:
        assert sent.count(name) == 1, (name, sent)


SECURITY = ("x-content-type-options", "x-frame-options", "content-security-policy", "referrer-policy")
CORS = ("access-control-allow-origin", "vary")
RATE = ("ratelimit", "ratelimit-policy")


def layer_of(hook: SendHook) -> str:
    """The class whose ``__call__`` made ``hook`` (its qualified name's first part)."""
    return str(getattr(hook, "__qualname__", "")).split(".")[0]


@pytest.mark.anyio
@pytest.mark.needs_extras
@pytest.mark.usefixtures("extras")
async def test_full_stack_edits_once_through_one_shared_pipeline() -> None:
    seen: dict[str, Any] = {}

    async def endpoint(request: Request) -> JSONResponse:
        pipeline = request.scope[SEND_PIPELINE_KEY]
        seen["pipeline"] = pipeline
        seen["layers"] = [layer_of(hook) for hook in pipeline.hooks]
        return JSONResponse({"ok": True})

    app = harden(Starlette(routes=[Route("/", endpoint)]), full_settings())
    async with client(app) as http:
        response = await http.get("/", headers={"origin": ORIGIN})

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    once(response, "x-request-id", *SECURITY, *CORS, *RATE)
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["x-content-type-options"] == "nosniff"

    layers: list[str] = seen["layers"]
    assert len(layers) >= 5, layers
    # One pipeline carries every layer's hook, outermost first.
    expected = [
        "RequestIdMiddleware",
        "AccessLogMiddleware",
        "ErrorGuardMiddleware",
        "SecurityHeadersMiddleware",
        "CORSMiddleware",
        "RateLimitMiddleware",
    ]
    assert [layer for layer in layers if layer in expected] == expected
    assert seen["pipeline"].hooks == []  # every layer released its hook when it returned


class AddsForeignHeader:
    """Foreign middleware that wraps ``send`` in a coroutine of its own."""

    def __init__(self, app: ASGIApp, seen: dict[str, Any]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen["outer"] = scope.get(SEND_PIPELINE_KEY)
        self.seen["outer_hooks"] = len(self.seen["outer"].hooks)

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = [key for key, _ in message["headers"]]
                self.seen["inner_edit_first"] = b"x-content-type-options" in names
                self.seen["outer_edit_first"] = b"x-request-id" in names
                message["headers"] = [*message["headers"], (b"x-foreign", b"1")]
            await send(message)

        await self.app(scope, receive, wrapped)


@pytest.mark.anyio
@pytest.mark.needs_extras
@pytest.mark.usefixtures("extras")
async def test_foreign_wrapper_between_layers_gets_a_second_pipeline() -> None:
    seen: dict[str, Any] = {}

    async def endpoint(request: Request) -> PlainTextResponse:
        seen["inner"] = request.scope[SEND_PIPELINE_KEY]
        seen["inner_hooks"] = [layer_of(hook) for hook in seen["inner"].hooks]
        return PlainTextResponse("hello")

    inner = SecurityHeadersMiddleware(Starlette(routes=[Route("/", endpoint)]))
    app = RequestIdMiddleware(AddsForeignHeader(inner, seen))
    async with client(app) as http:
        response = await http.get("/")

    assert response.status_code == 200
    assert response.text == "hello"
    once(response, "x-request-id", "x-foreign", *SECURITY)
    assert response.headers["x-foreign"] == "1"

    outer: SendPipeline = seen["outer"]
    inner_pipeline: SendPipeline = seen["inner"]
    assert isinstance(outer, SendPipeline)
    assert inner_pipeline is not outer  # the wrapped send made the inner layer start its own
    assert seen["outer_hooks"] == 1  # the request ID layer's
    assert seen["inner_hooks"] == ["SecurityHeadersMiddleware"]
    # Still innermost first: the foreign wrapper saw the inner edit, not yet the outer one.
    assert seen["inner_edit_first"] is True
    assert seen["outer_edit_first"] is False
    assert outer.hooks == []
    assert inner_pipeline.hooks == []


class RescueWith503:
    """Foreign middleware that passes ``send`` on untouched and answers a 503 when the app raises."""

    def __init__(self, app: ASGIApp, seen: dict[str, Any]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pipeline = scope[SEND_PIPELINE_KEY]
        self.seen["shared"] = send is pipeline.send
        try:
            await self.app(scope, receive, send)
        except RuntimeError:
            self.seen["hooks_when_rescuing"] = [layer_of(hook) for hook in pipeline.hooks]
            await send({"type": "http.response.start", "status": 503, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"rescued"})


@pytest.mark.anyio
@pytest.mark.needs_extras
@pytest.mark.usefixtures("extras")
async def test_a_hook_ends_with_its_layer() -> None:
    """A response sent after the inner layer raised goes through the outer layer only."""
    seen: dict[str, Any] = {}

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/boom":
            raise RuntimeError("boom")
        await PlainTextResponse("fine")(scope, receive, send)

    app = CORSMiddleware(
        RescueWith503(SecurityHeadersMiddleware(endpoint), seen),
        CORSConfig(allow_origins=[ORIGIN]),
    )
    async with client(app) as http:
        rescued = await http.get("/boom", headers={"origin": ORIGIN})
        fine = await http.get("/fine", headers={"origin": ORIGIN})

    assert seen["shared"] is True  # the in-between middleware really shared the pipeline
    assert seen["hooks_when_rescuing"] == ["CORSMiddleware"]
    assert rescued.status_code == 503
    assert rescued.text == "rescued"
    once(rescued, *CORS)
    assert rescued.headers["access-control-allow-origin"] == ORIGIN
    for name in SECURITY:
        assert name not in rescued.headers, name  # the security-headers layer had exited

    # While both layers run, both edit the response.
    assert fine.status_code == 200
    once(fine, *CORS, *SECURITY)


@pytest.mark.anyio
@pytest.mark.needs_extras
@pytest.mark.usefixtures("extras")
async def test_error_guard_500_carries_every_layer_header_once() -> None:
    async def boom(request: Request) -> PlainTextResponse:
        raise RuntimeError("canary-guard-text")

    app = harden(Starlette(routes=[Route("/boom", boom)]), full_settings())
    async with client(app) as http:
        response = await http.get("/boom", headers={"origin": ORIGIN})

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 500
    assert "canary-guard-text" not in response.text
    once(response, "x-request-id", *SECURITY, *CORS)
    assert problem["request_id"] == response.headers["x-request-id"]
    assert response.headers["access-control-allow-origin"] == ORIGIN


@pytest.mark.anyio
@pytest.mark.needs_extras
@pytest.mark.usefixtures("extras")
async def test_framework_500_then_raise_yields_only_the_guard_problem() -> None:
    """Like Starlette's ServerErrorMiddleware: the app sends its own 500, then raises."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 500, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"framework error page"})
        raise RuntimeError("after the framework answered")

    result = await call(harden(app, full_settings()), http_scope(headers=[(b"origin", ORIGIN.encode())]))

    assert result.status == 500  # exactly one response start
    assert result.headers["content-type"] == "application/problem+json"
    assert b"framework error page" not in result.body
    assert result.complete
    once(result, "x-request-id", *SECURITY, *CORS)
    assert result.json()["request_id"] == result.headers["x-request-id"]


@pytest.mark.anyio
@pytest.mark.needs_extras
@pytest.mark.usefixtures("extras")
async def test_body_over_the_limit_gets_one_413_and_the_app_response_is_dropped() -> None:
    app_sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        # Reads to the end (or the disconnect the limit reports), then answers anyway.
        while True:
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        for message in (
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]},
            {"type": "http.response.body", "body": b"app-response"},
        ):
            app_sent.append(message)
            await send(message)

    settings = full_settings(body_limit={"max_bytes": 64})
    scope = http_scope("POST", "/upload", headers=[(b"origin", ORIGIN.encode())])
    result = await call(harden(app, settings), scope, [b"x" * 40] * 4)

    assert result.status == 413  # exactly one response start
    assert result.headers["content-type"] == "application/problem+json"
    assert result.json()["max_bytes"] == 64
    assert b"app-response" not in result.body
    assert result.complete
    assert [m["type"] for m in app_sent] == ["http.response.start", "http.response.body"]  # it did try
    once(result, "x-request-id", *SECURITY, *CORS)
    assert result.body_bytes_pulled <= 120  # the rest of the body was never read


@pytest.mark.anyio
@pytest.mark.needs_extras
@pytest.mark.usefixtures("extras")
async def test_body_over_the_limit_through_httpx_and_starlette() -> None:
    async def upload(request: Request) -> JSONResponse:
        return JSONResponse({"size": len(await request.body())})

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"y" * 32

    app = harden(
        Starlette(routes=[Route("/upload", upload, methods=["POST"])]), full_settings(body_limit={"max_bytes": 64})
    )
    async with client(app) as http:
        response = await http.post("/upload", content=chunks(), headers={"origin": ORIGIN})

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 413
    once(response, "x-request-id", *SECURITY, *CORS)


@pytest.fixture
def access() -> Iterator[BufferingHandler]:
    """The access lines of the test, in ``.buffer`` (a handler on the access logger itself)."""
    handler = BufferingHandler(capacity=1000)
    logger = logging.getLogger(ACCESS_LOGGER)
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


async def start_and_body(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})


async def no_request_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class FailsOnBody:
    """A server ``send`` whose connection drops when the body is sent."""

    def __init__(self) -> None:
        self.delivered: list[Message] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.body":
            raise ConnectionResetError("client went away")
        self.delivered.append(message)


@pytest.mark.anyio
async def test_access_log_marks_disconnect_when_the_shared_send_fails(access: BufferingHandler) -> None:
    """The access layer joined the request-ID layer's pipeline: it learns of the failure from it."""
    server = FailsOnBody()
    scope = http_scope()
    with pytest.raises(ConnectionResetError):
        await RequestIdMiddleware(AccessLogMiddleware(start_and_body))(scope, no_request_body, server)

    assert [m["type"] for m in server.delivered] == ["http.response.start"]
    assert scope[SEND_PIPELINE_KEY].failed is True
    [line] = access.buffer
    assert line.disconnected is True  # type: ignore[attr-defined]
    assert line.status == 200  # type: ignore[attr-defined]
    assert line.error == "ConnectionResetError"  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_access_log_marks_disconnect_even_when_the_app_swallows_the_error(access: BufferingHandler) -> None:
    async def swallowing(scope: Scope, receive: Receive, send: Send) -> None:
        with contextlib.suppress(OSError):  # some apps give up quietly when the client is gone
            await start_and_body(scope, receive, send)

    await RequestIdMiddleware(AccessLogMiddleware(swallowing))(http_scope(), no_request_body, FailsOnBody())

    [line] = access.buffer
    assert line.disconnected is True  # type: ignore[attr-defined]
    assert getattr(line, "error", None) is None  # no exception reached the access layer


@pytest.mark.anyio
@pytest.mark.needs_extras
@pytest.mark.usefixtures("extras")
async def test_access_log_marks_disconnect_under_the_full_stack(access: BufferingHandler) -> None:
    server = FailsOnBody()
    await harden(start_and_body, full_settings())(http_scope(), no_request_body, server)

    [start] = server.delivered
    assert start["status"] == 200
    [line] = access.buffer
    assert line.disconnected is True  # type: ignore[attr-defined]
    assert line.status == 200  # type: ignore[attr-defined]
    assert line.request_id == dict(start["headers"])[b"x-request-id"].decode()  # type: ignore[attr-defined]
