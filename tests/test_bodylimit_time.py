"""Body time limits in process: what is timed (only waiting for the client), the 408, the settings."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from hardening import HardeningSettings
from hardening.bodylimit import CHECKS, BodyLimitConfig, BodyLimitMiddleware, BodyTimeLimit
from hardening.findings import Finding
from hardening.problems import PROBLEM_CONTENT_TYPE, problem_type

pytestmark = pytest.mark.anyio

SCOPE: Scope = {
    "type": "http",
    "http_version": "1.1",
    "method": "POST",
    "path": "/upload",
    "query_string": b"",
    "headers": [(b"content-length", b"100")],
}


class Client:
    """A client sending ``chunks`` (``(delay, body, more)``), then waiting for the connection to end."""

    def __init__(self, chunks: list[tuple[float, bytes, bool]]) -> None:
        self.chunks = list(chunks)
        self.sent: list[Message] = []
        self.closed = asyncio.Event()

    async def receive(self) -> Message:
        if self.chunks:
            delay, body, more = self.chunks.pop(0)
            await asyncio.sleep(delay)
            return {"type": "http.request", "body": body, "more_body": more}
        await self.closed.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    def status(self) -> int | None:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        return starts[0]["status"] if starts else None

    def headers(self) -> dict[bytes, bytes]:
        return dict(next(m for m in self.sent if m["type"] == "http.response.start")["headers"])


def reader(seen: list[Message], pause: float = 0.0) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            seen.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
            await asyncio.sleep(pause)  # the app's own work between reads
        if seen[-1]["type"] == "http.request":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

    return app


async def test_a_stalled_body_gets_408_with_connection_close_and_the_app_a_disconnect() -> None:
    seen: list[Message] = []
    client = Client([(0, b"x" * 10, True), (30, b"never", False)])
    config = BodyLimitConfig(timeout=5, min_rate=1000, min_rate_grace=0.05)
    await asyncio.wait_for(BodyLimitMiddleware(reader(seen), config)(dict(SCOPE), client.receive, client.send), 3)
    assert client.status() == 408
    headers = client.headers()
    assert headers[b"content-type"] == PROBLEM_CONTENT_TYPE.encode()
    assert headers[b"connection"] == b"close"
    body = b"".join(m.get("body", b"") for m in client.sent if m["type"] == "http.response.body")
    assert problem_type("body-timeout").encode() in body
    assert seen[-1] == {"type": "http.disconnect"}


async def test_the_whole_body_timeout_counts_only_waiting_not_the_app() -> None:
    # The app spends 0.1 s per chunk, five times the 0.1 s timeout in all; the client is instant.
    seen: list[Message] = []
    chunks = [(0.0, b"y" * 10, True)] * 5 + [(0.0, b"y", False)]
    client = Client(chunks)
    config = BodyLimitConfig(timeout=0.1, min_rate=None)
    await BodyLimitMiddleware(reader(seen, pause=0.1), config)(dict(SCOPE), client.receive, client.send)
    assert client.status() == 200


async def test_after_the_body_a_wait_for_disconnect_is_not_timed() -> None:
    client = Client([(0, b"z" * 100, False)])
    got: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        got.append(await receive())  # what StreamingResponse does: wait for the client to leave

    config = BodyLimitConfig(timeout=0.05, min_rate=100, min_rate_grace=0.01)
    task = asyncio.create_task(BodyLimitMiddleware(app, config)(dict(SCOPE), client.receive, client.send))
    await asyncio.sleep(0.2)
    assert not task.done()  # still waiting, no 408, no fake disconnect
    client.closed.set()
    await task
    assert got == [{"type": "http.disconnect"}]
    assert client.status() == 200


async def test_too_slow_after_the_response_started_sends_nothing_more() -> None:
    client = Client([(0, b"a", True), (30, b"b", False)])
    got: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        got.append(await receive())
        got.append(await receive())
        await send({"type": "http.response.body", "body": b"done"})

    config = BodyLimitConfig(timeout=0.1, min_rate=None)
    await asyncio.wait_for(BodyLimitMiddleware(app, config)(dict(SCOPE), client.receive, client.send), 3)
    assert got[-1] == {"type": "http.disconnect"}
    assert [m["status"] for m in client.sent if m["type"] == "http.response.start"] == [200]


async def test_per_path_time_limits_inherit_and_null_turns_them_off() -> None:
    config = BodyLimitConfig(
        timeout=0.05,
        min_rate=None,
        time_paths={"/slow/*": {"timeout": 5}, "/free": None},
    )
    for path, expected in (("/upload", 408), ("/slow/x", 200), ("/free", 200)):
        seen: list[Message] = []
        client = Client([(0, b"a", True), (0.2, b"b", False)])
        await BodyLimitMiddleware(reader(seen), config)({**SCOPE, "path": path}, client.receive, client.send)
        assert client.status() == expected, path
    layer = config.times()
    assert BodyTimeLimit(min_rate="2KiB").resolve(layer) == (0.05, 2048, layer.grace)
    assert BodyTimeLimit(timeout=None).resolve(layer).timeout is None


def test_time_settings_validate_and_load_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert BodyLimitConfig().timeout == 30.0
    assert BodyLimitConfig().min_rate == 1024
    assert BodyLimitConfig().min_rate_grace == 5.0
    for bad in ({"timeout": 0}, {"min_rate": 0}, {"min_rate_grace": -1}, {"time_paths": {"x": None}}):
        with pytest.raises(ValidationError):
            BodyLimitConfig(**bad)
    with pytest.raises(ValidationError):
        BodyLimitConfig(time_paths={"/a": {"timeout": -1}})
    monkeypatch.setenv("HARDENING_BODY_LIMIT__TIMEOUT", "12.5")
    monkeypatch.setenv("HARDENING_BODY_LIMIT__MIN_RATE", "2KiB")
    monkeypatch.setenv("HARDENING_BODY_LIMIT__TIME_PATHS", '{"/uploads/*": {"timeout": 600}}')
    loaded = HardeningSettings().body_limit
    assert (loaded.timeout, loaded.min_rate) == (12.5, 2048)
    assert loaded.time_paths["/uploads/*"] == BodyTimeLimit(timeout=600)


def test_production_rule_when_no_time_limit_is_left() -> None:
    def ids(**body: Any) -> list[str]:
        settings = HardeningSettings(environment="production", body_limit=BodyLimitConfig(**body))
        findings: list[Finding] = [f for check in CHECKS for f in check(settings)]
        return [f.id for f in findings]

    assert "HARDENING-BODY-004" not in ids()
    assert "HARDENING-BODY-004" in ids(timeout=None, min_rate=None)
