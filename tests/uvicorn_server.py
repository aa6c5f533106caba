"""Serve an ASGI app with a REAL uvicorn on loopback, for tests.

* :func:`serve` runs the server in the test's own event loop (async tests).
* :class:`ThreadServer` runs it in a thread on a pre-bound socket (sync tests, browser
  tests, fake upstreams that a subprocess calls).

Servers started as subprocesses (``python -m uvicorn ...``) wait with
:func:`tests.servers.wait_for_port`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.types import ASGIApp

from tests.servers import free_port

__all__ = ("ThreadServer", "serve")


@asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[str]:
    """Serve ``app`` with a real uvicorn on 127.0.0.1 in this event loop; yield its URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class ThreadServer:
    """Serve an ASGI app with uvicorn in a thread, on a pre-bound loopback socket.

    No ``Server`` header, no access log, no lifespan. Use it as a context manager; it
    waits until uvicorn has started.

    Attributes:
        port: The bound port.
        url: ``http://127.0.0.1:<port>``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", server_header=False, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                msg = "uvicorn did not start"
                raise RuntimeError(msg)
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
