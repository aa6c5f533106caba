"""Drive an ASGI app with raw messages, without an HTTP client in the way.

httpx refuses invalid header bytes and always sends consistent framing; these helpers
send whatever a test wants (any header bytes, a body cut into any chunks, a lazy body)
and record every message the app sends, so tests can check the ASGI protocol itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Scope

__all__ = ("Result", "answering", "answering_shaped", "call", "http_scope")


@dataclass
class Result:
    """What the app sent back, and how much of the body it pulled."""

    messages: list[Message] = field(default_factory=list)
    body_bytes_pulled: int = 0
    receive_calls: int = 0

    @property
    def starts(self) -> list[Message]:
        """Every ``http.response.start`` message."""
        return [m for m in self.messages if m["type"] == "http.response.start"]

    @property
    def status(self) -> int:
        """The status of the (single) response start."""
        assert len(self.starts) == 1, self.messages
        status: int = self.starts[0]["status"]
        return status

    @property
    def headers(self) -> dict[str, str]:
        """The response headers, decoded (last value wins)."""
        return {k.decode("latin-1"): v.decode("latin-1") for k, v in self.starts[0].get("headers", [])}

    @property
    def body(self) -> bytes:
        """The concatenated response body."""
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")

    @property
    def complete(self) -> bool:
        """Whether the last message ended the response body."""
        bodies = [m for m in self.messages if m["type"] == "http.response.body"]
        return bool(bodies) and not bodies[-1].get("more_body", False)

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def http_scope(
    method: str = "GET",
    path: str = "/",
    *,
    headers: Iterable[tuple[bytes, bytes]] = (),
    query_string: bytes = b"",
    state: dict[str, Any] | None = None,
    client: tuple[str, int] = ("127.0.0.1", 50000),
) -> Scope:
    """Return an HTTP scope as uvicorn would build it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "root_path": "",
        "query_string": query_string,
        "headers": [(b"host", b"testserver"), *headers],
        "client": client,
        "server": ("127.0.0.1", 8000),
        "state": {} if state is None else state,
    }


async def call(app: ASGIApp, scope: Scope, chunks: Iterable[bytes] = ()) -> Result:
    """Run ``app`` on ``scope`` with the body ``chunks`` (pulled lazily, one per receive)."""
    result = Result()
    iterator: Iterator[bytes] = iter(chunks)
    pending = next(iterator, None)
    done = False

    async def receive() -> Message:
        nonlocal pending, done
        result.receive_calls += 1
        if done:
            return {"type": "http.disconnect"}
        if pending is None:
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        chunk = pending
        pending = next(iterator, None)
        result.body_bytes_pulled += len(chunk)
        done = pending is None
        return {"type": "http.request", "body": chunk, "more_body": pending is not None}

    async def send(message: Message) -> None:
        result.messages.append(message)

    await app(scope, receive, send)
    return result


def answering(headers: Any, body: bytes = b"") -> ASGIApp:
    """An app sending ``headers`` (the very object, never a copy) and ``body`` on every request."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def answering_shaped(pairs: list[tuple[bytes, bytes]], shape: str) -> ASGIApp:
    """An app sending ``pairs`` as ASGI allows: ``list``, ``tuple``, ``generator``, ``none`` or ``missing``."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        start: dict[str, Any] = {"type": "http.response.start", "status": 200}
        if shape == "list":
            start["headers"] = list(pairs)
        elif shape == "none":
            start["headers"] = None
        elif shape == "tuple":
            start["headers"] = tuple(pairs)
        elif shape == "generator":
            start["headers"] = (pair for pair in pairs)
        await send(start)
        await send({"type": "http.response.body", "body": b""})

    return app
