"""Run an ASGI app's lifespan around in-process probing (no server, no network)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

from hardening.audit._model import AuditError
from hardening.redaction import redact_text

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ("LifespanError", "lifespan", "with_state")


class LifespanError(AuditError):
    """The app's lifespan start-up failed or did not finish in time."""


@asynccontextmanager
async def lifespan(app: ASGIApp, *, startup_timeout: float = 10.0) -> AsyncIterator[dict[str, Any] | None]:
    """Send ``lifespan.startup`` to ``app``, yield, then send ``lifespan.shutdown``.

    Yields the lifespan ``state`` dictionary to copy into each request scope, or ``None``
    when the app does not support the lifespan protocol (it raised or returned without
    answering, which servers also tolerate).

    Raises:
        LifespanError: The app answered ``lifespan.startup.failed`` or took longer than
            ``startup_timeout`` seconds to start.
    """
    state: dict[str, Any] = {}
    to_app_send, to_app_receive = anyio.create_memory_object_stream[dict[str, Any]](4)
    from_app_send, from_app_receive = anyio.create_memory_object_stream[dict[str, Any]](4)
    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}

    async def receive() -> Message:
        return await to_app_receive.receive()

    async def send(message: Message) -> None:
        await from_app_send.send(dict(message))

    async def run() -> None:
        try:
            await app(scope, receive, send)
        except Exception as exc:
            await from_app_send.send({"type": "audit.ended", "error": type(exc).__name__})
        else:
            await from_app_send.send({"type": "audit.ended", "error": ""})

    failure = ""
    with to_app_send, to_app_receive, from_app_send, from_app_receive:
        async with anyio.create_task_group() as group:
            group.start_soon(run)
            await to_app_send.send({"type": "lifespan.startup"})
            answer: dict[str, Any] = {"type": "audit.timeout"}
            with anyio.move_on_after(startup_timeout):
                answer = await from_app_receive.receive()
            if answer["type"] == "audit.timeout":
                failure = f"it did not finish within {startup_timeout:g} s"
            elif answer["type"] == "lifespan.startup.failed":
                failure = _last_line(str(answer.get("message", ""))) or "no message"
            if failure:
                group.cancel_scope.cancel()
            else:
                supported = answer["type"] == "lifespan.startup.complete"
                try:
                    yield state if supported else None
                finally:
                    if supported:
                        await to_app_send.send({"type": "lifespan.shutdown"})
                        with anyio.move_on_after(startup_timeout):
                            await from_app_receive.receive()
                    group.cancel_scope.cancel()
    if failure:
        msg = f"the app's lifespan start-up failed: {failure}"
        raise LifespanError(msg)


def _last_line(message: str) -> str:
    """Return the last line of a failure message (Starlette sends a whole traceback), redacted."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return redact_text(lines[-1])[:300] if lines else ""


def with_state(app: ASGIApp, state: dict[str, Any] | None) -> ASGIApp:
    """Return ``app`` with a shallow copy of the lifespan ``state`` in every request scope."""
    if state is None:
        return app

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "state": dict(state)}
        await app(scope, receive, send)

    return wrapped
