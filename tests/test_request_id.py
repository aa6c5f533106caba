"""Request IDs (research R1 to R6): kept when valid, replaced when not, echoed on every response."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from hardening import LAYER_ORDER, HardeningSettings, LayerContext, build_layer, harden
from hardening.clientip import ProxyConfig
from hardening.logs import RequestIdConfig, RequestIdMiddleware, generate_request_id, get_request_id
from tests.asgi_call import call, http_scope

HEX32 = re.compile(r"^[0-9a-f]{32}$")


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "contextvar": get_request_id(),
            "state": request.state.request_id,
            "header": request.headers.get("x-request-id"),
        }
    )


def sync_whoami(request: Request) -> JSONResponse:  # runs in Starlette's thread pool
    return JSONResponse({"contextvar": get_request_id()})


async def boom(request: Request) -> PlainTextResponse:
    raise RuntimeError("handler failed")


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(get_request_id() or "")
    await websocket.close()


APP = Starlette(
    routes=[
        Route("/", whoami),
        Route("/sync", sync_whoami),
        Route("/boom", boom),
        WebSocketRoute("/ws", ws),
    ]
)


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured() -> Iterator[Capture]:
    handler = Capture()
    logger = logging.getLogger("hardening.request_id")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old)


@pytest.mark.anyio
async def test_r1_generated_when_missing() -> None:
    async with client(RequestIdMiddleware(APP)) as http:
        response = await http.get("/")
    request_id = response.headers["x-request-id"]
    assert HEX32.match(request_id)
    assert response.json() == {"contextvar": request_id, "state": request_id, "header": request_id}


@pytest.mark.anyio
async def test_r1_ids_are_unique_and_reach_the_thread_pool() -> None:
    async with client(RequestIdMiddleware(APP)) as http:
        responses = await asyncio.gather(*(http.get("/sync") for _ in range(20)))
    ids = [r.headers["x-request-id"] for r in responses]
    assert len(set(ids)) == 20
    assert [r.json()["contextvar"] for r in responses] == ids


@pytest.mark.anyio
@pytest.mark.parametrize(
    "incoming",
    [
        "0f8fad5b-d9cb-469f-a165-70867728950e",  # UUID
        "0F8FAD5BD9CB469FA16570867728950E",  # UUID without dashes / nginx $request_id
        "01ARZ3NDEKTSV4RRFFQ69G5FAV",  # ULID
        "4bf92f3577b34da6a3ce929d0e0e4736",  # W3C trace id
    ],
)
async def test_r2_valid_incoming_is_kept(incoming: str, captured: Capture) -> None:
    async with client(RequestIdMiddleware(APP)) as http:
        response = await http.get("/", headers={"X-Request-ID": incoming})
    assert response.headers["x-request-id"] == incoming
    assert response.json()["contextvar"] == incoming
    assert captured.records == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    "incoming",
    [
        "a" * 200,
        "abc\x1b[31mred",
        'abc"def',
        "not-an-id",
        "",
        "00000000000000000000000000000000",
        "é" * 8,
    ],
)
async def test_r3_invalid_incoming_is_replaced_without_echo(incoming: str, captured: Capture) -> None:
    async with client(RequestIdMiddleware(APP)) as http:
        response = await http.get("/", headers=[(b"x-request-id", incoming.encode())])
    request_id = response.headers["x-request-id"]
    assert HEX32.match(request_id)
    assert request_id != incoming
    body = response.json()
    assert body["header"] == request_id  # the app sees the replacement, not the bad value
    assert len(captured.records) == 1
    record = captured.records[0]
    assert record.levelno == logging.WARNING
    if incoming:
        assert incoming not in record.getMessage()
        assert incoming not in repr(record.__dict__)


@pytest.mark.anyio
async def test_r3_newline_header_at_asgi_level() -> None:
    """httpx refuses a newline in a header; an ASGI server may still pass odd bytes."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"x-request-id", b"abc\ndef")],
        "query_string": b"",
    }
    await RequestIdMiddleware(APP)(scope, receive, send)
    headers = dict(sent[0]["headers"])
    assert HEX32.match(headers[b"x-request-id"].decode())


@pytest.mark.anyio
async def test_r4_unhandled_exception_gets_500_with_id() -> None:
    async with client(RequestIdMiddleware(APP)) as http:
        with pytest.raises(RuntimeError):
            await http.get("/boom")
    transport = httpx.ASGITransport(app=RequestIdMiddleware(APP), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/boom", headers={"X-Request-ID": "0f8fad5b-d9cb-469f-a165-70867728950e"})
    # Starlette answers its own plain 500 and re-raises: it still carries the ID.
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "0f8fad5b-d9cb-469f-a165-70867728950e"


@pytest.mark.anyio
async def test_r4_bare_app_exception_gets_problem_500_with_id() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("handler failed")

    transport = httpx.ASGITransport(app=RequestIdMiddleware(app), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/", headers={"X-Request-ID": "0f8fad5b-d9cb-469f-a165-70867728950e"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["request_id"] == "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert "handler failed" not in response.text


@pytest.mark.needs_extras  # harden() defaults need hardening[headers,ratelimit]
@pytest.mark.anyio
async def test_r4_through_harden_with_error_guard() -> None:
    from hardening import harden

    app = harden(APP, HardeningSettings(environment="test"))
    async with client(app) as http:
        response = await http.get("/boom")
    assert response.status_code == 500
    assert HEX32.match(response.headers["x-request-id"])
    assert response.json()["request_id"] == response.headers["x-request-id"]


@pytest.mark.anyio
async def test_r5_contextvar_reset_after_response() -> None:
    seen: list[str | None] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(get_request_id())
        await PlainTextResponse("ok")(scope, receive, send)

    async with client(RequestIdMiddleware(app)) as http:
        await http.get("/")
        assert get_request_id() is None
        await http.get("/")
    assert seen[0] is not None
    assert seen[1] is not None
    assert seen[0] != seen[1]
    assert get_request_id() is None


@pytest.mark.anyio
async def test_r5_websocket_gets_an_id_and_accept_header() -> None:
    messages: list[Message] = []
    inbox: list[Message] = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]

    async def receive() -> Message:
        return inbox.pop(0)

    async def send(message: Message) -> None:
        messages.append(message)

    scope: Scope = {"type": "websocket", "path": "/ws", "headers": [], "query_string": b"", "subprotocols": []}
    await RequestIdMiddleware(APP)(scope, receive, send)
    accept = next(m for m in messages if m["type"] == "websocket.accept")
    header = dict(accept["headers"])[b"x-request-id"].decode()
    text = next(m for m in messages if m["type"] == "websocket.send")["text"]
    assert header == text
    assert HEX32.match(text)


@pytest.mark.anyio
async def test_lifespan_passes_through() -> None:
    calls: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope["type"])

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        return None

    await RequestIdMiddleware(app)({"type": "lifespan"}, receive, send)
    assert calls == ["lifespan"]
    assert get_request_id() is None


@pytest.mark.anyio
async def test_options() -> None:
    config = RequestIdConfig(
        header_name="X-Correlation-ID",
        accept=("token",),
        max_length=16,
        response_header=True,
        update_request_header=False,
    )
    async with client(RequestIdMiddleware(APP, config)) as http:
        kept = await http.get("/", headers={"X-Correlation-ID": "req:42/abc"})
        too_long = await http.get("/", headers={"X-Correlation-ID": "x" * 17})
    assert kept.headers["x-correlation-id"] == "req:42/abc"
    assert too_long.headers["x-correlation-id"] != "x" * 17
    assert too_long.json()["header"] is None  # update_request_header off, different header name


@pytest.mark.anyio
async def test_never_trust_incoming_and_custom_pattern() -> None:
    async with client(RequestIdMiddleware(APP, RequestIdConfig(trust_incoming=False))) as http:
        response = await http.get("/", headers={"X-Request-ID": "0f8fad5b-d9cb-469f-a165-70867728950e"})
    assert response.headers["x-request-id"] != "0f8fad5b-d9cb-469f-a165-70867728950e"
    async with client(RequestIdMiddleware(APP, RequestIdConfig(accept=(), pattern=r"req-\d+"))) as http:
        kept = await http.get("/", headers={"X-Request-ID": "req-123"})
        uuid = await http.get("/", headers={"X-Request-ID": "0f8fad5b-d9cb-469f-a165-70867728950e"})
    assert kept.headers["x-request-id"] == "req-123"
    assert uuid.headers["x-request-id"] != "0f8fad5b-d9cb-469f-a165-70867728950e"


@pytest.mark.anyio
@pytest.mark.parametrize(("peer", "kept"), [("10.0.0.5", True), ("203.0.113.9", False)])
async def test_trusted_sources_only(peer: str, kept: bool) -> None:
    app = RequestIdMiddleware(
        APP,
        RequestIdConfig(trusted_sources_only=True),
        context=LayerContext(proxy=ProxyConfig(trusted_proxies=("10.0.0.0/8",))),
    )
    transport = httpx.ASGITransport(app=app, client=(peer, 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/", headers={"X-Request-ID": "0f8fad5b-d9cb-469f-a165-70867728950e"})
    assert (response.headers["x-request-id"] == "0f8fad5b-d9cb-469f-a165-70867728950e") is kept


UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def _only_request_id(trusted: list[str]) -> Any:
    """``harden()`` with only the request-ID layer, keeping IDs from trusted proxies only."""
    off = {name: {"enabled": False} for name in LAYER_ORDER if name != "request_id"}
    settings = HardeningSettings.model_validate(
        {
            "environment": "test",
            "proxy": {"trusted_proxies": trusted},
            "request_id": {"trusted_sources_only": True},
            **off,
        }
    )
    return harden(APP, settings)


async def _kept_from(app: Any, client_address: tuple[str, int] | None) -> bool:
    scope = http_scope(headers=[(b"x-request-id", UUID.encode())])
    if client_address is None:
        scope["client"] = None  # a UNIX socket: the server gives no client address
    else:
        scope["client"] = client_address
    result = await call(app, scope)
    return result.headers["x-request-id"] == UUID


@pytest.mark.anyio
async def test_trusted_unix_socket_with_trusted_sources_only() -> None:
    """``trusted_proxies=["unix"]`` (as the rate-limit docs advise) no longer crashes start-up."""
    app = _only_request_id(["unix"])  # ValueError: 'unix' does not appear to be an IPv4 or IPv6 network
    assert await _kept_from(app, None)
    assert not await _kept_from(app, ("203.0.113.9", 1234))


@pytest.mark.anyio
async def test_ipv4_mapped_peer_is_trusted_as_the_resolver_trusts_it() -> None:
    """A peer ``::ffff:10.0.0.1`` is inside ``10.0.0.0/8`` for request IDs, as for ClientResolver."""
    app = _only_request_id(["10.0.0.0/8"])
    assert await _kept_from(app, ("::ffff:10.0.0.1", 1234))
    assert await _kept_from(app, ("10.0.0.1", 1234))
    assert not await _kept_from(app, ("::ffff:203.0.113.9", 1234))


def test_config_validation_names_the_env_var() -> None:
    with pytest.raises(ValueError, match=r"(?s)^(?!.*HARDENING_).*\bheader_name\b"):
        RequestIdConfig(header_name="bad header")
    with pytest.raises(ValueError, match=r"(?s)^(?!.*HARDENING_).*\bpattern\b"):
        RequestIdConfig(pattern="(")
    with pytest.raises(ValueError, match=r"(?s)^(?!.*HARDENING_).*\bmax_length\b"):
        RequestIdConfig(max_length=4)


def test_build_and_defaults() -> None:
    assert RequestIdConfig().enabled
    assert build_layer(APP, RequestIdConfig(enabled=False)) is APP
    assert isinstance(build_layer(APP, RequestIdConfig(), LayerContext.of(HardeningSettings())), RequestIdMiddleware)
    assert HEX32.match(generate_request_id())


@given(value=st.binary(max_size=300))
def test_any_incoming_bytes_give_a_safe_id(value: bytes) -> None:
    middleware = RequestIdMiddleware(APP)
    kept, rejected = middleware._incoming({"type": "http", "headers": [(b"x-request-id", value)]})
    if kept is not None:
        assert rejected is None
        assert len(kept) <= 128
        assert re.fullmatch(r"[0-9A-Za-z\-]+", kept)
    else:
        assert rejected == len(value)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("config", "incoming"),
    [
        (RequestIdConfig(), None),  # no header: the new ID is appended
        (RequestIdConfig(), b"not an id"),  # rejected: replaced
        (RequestIdConfig(trust_incoming=False), b"0f8fad5b-d9cb-469f-a165-70867728950e"),  # ignored
        (RequestIdConfig(trusted_sources_only=True), b"0f8fad5b-d9cb-469f-a165-70867728950e"),  # untrusted
    ],
)
async def test_the_app_sees_exactly_one_request_id_header(config: RequestIdConfig, incoming: bytes | None) -> None:
    seen: list[list[tuple[bytes, bytes]]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(list(scope["headers"]))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    headers = [(b"host", b"testserver"), (b"accept", b"*/*")]
    if incoming is not None:
        headers.insert(1, (b"x-request-id", incoming))
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers, "client": ("203.0.113.9", 1)}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    await RequestIdMiddleware(app, config)(scope, receive, send)
    [request_headers] = seen
    ids = [value for name, value in request_headers if name == b"x-request-id"]
    assert len(ids) == 1
    assert HEX32.match(ids[0].decode())
    assert [pair for pair in request_headers if pair[0] != b"x-request-id"] == [
        (b"host", b"testserver"),
        (b"accept", b"*/*"),
    ]
    assert dict(sent[0]["headers"])[b"x-request-id"] == ids[0]
