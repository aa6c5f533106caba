"""Helpers shared by the health tests."""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.types import Receive, Scope, Send

from hardening.health import HealthConfig, HealthMiddleware, HealthRegistry


async def inner_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A tiny app behind the health layer (answers 200 "app")."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"app"})


def make(registry: HealthRegistry | None = None, **config: Any) -> HealthMiddleware:
    """Wrap :func:`inner_app` in the health layer with ``config``."""
    return HealthMiddleware(inner_app, HealthConfig(**config), registry=registry)


def client(app: Any) -> httpx.AsyncClient:
    """An httpx client driving ``app`` in process."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def body_of(response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a health response."""
    data: dict[str, Any] = json.loads(response.content)
    return data
