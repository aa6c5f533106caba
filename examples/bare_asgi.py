"""A bare ASGI callable (no framework) hardened in a few lines.

Run it: ``uvicorn examples.bare_asgi:app --no-server-header --no-access-log``
"""

from __future__ import annotations

import json

from starlette.types import Receive, Scope, Send

from hardening import HardeningSettings, harden


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":  # nothing to set up or tear down
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["path"] == "/boom":
        raise RuntimeError("the error guard turns this into a problem+json 500")
    body = json.dumps({"path": scope["path"], "message": "hello from bare ASGI"}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


app = harden(hello, HardeningSettings(environment="development"))
