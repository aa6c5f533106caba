"""A fault-injecting TCP proxy for testing how a service behaves when a backend misbehaves.

:class:`FaultProxy` listens on loopback and forwards to a real backend (Redis,
PostgreSQL, ...), or to nothing. Switch its :attr:`~FaultProxy.mode` at any time:

* ``pass``: forward both ways (add :attr:`~FaultProxy.latency` to each reply chunk);
* ``blackhole``: accept connections and read requests but never answer (the worst
  failure: without timeouts, clients hang);
* ``reset``: accept, then reset the connection at once;
* ``refuse``: stop listening, so connections are refused (like a crashed server).

Switching to ``blackhole``, ``reset`` or ``refuse`` also affects open connections:
they stop getting replies, or are reset. The proxy runs its own event loop in a
background thread, so it keeps working while the code under test blocks its loop.

Example::

    with FaultProxy(upstream=("127.0.0.1", 6379)) as proxy:
        url = proxy.url("redis")          # point the client here
        proxy.mode = "blackhole"          # Redis now "hangs"
        proxy.mode = "pass"; proxy.latency = 0.2   # slow Redis
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any, Literal

__all__ = ("FaultMode", "FaultProxy")

FaultMode = Literal["pass", "blackhole", "reset", "refuse"]
"""What the proxy does with connections (see the module docs)."""

_CHUNK = 65536


class FaultProxy:
    """A TCP proxy on loopback that can hang, slow down, reset or refuse on demand.

    Args:
        upstream: ``(host, port)`` to forward to in ``pass`` mode; ``None`` forwards
            nowhere (``pass`` then behaves like ``reset``).
        host: The address to listen on.
        port: The port to listen on; 0 picks a free one (kept across ``refuse``).
        mode: The initial mode.
        latency: Seconds added before each chunk sent back to the client.
    """

    def __init__(
        self,
        upstream: tuple[str, int] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        mode: FaultMode = "pass",
        latency: float = 0.0,
    ) -> None:
        self.upstream = upstream
        self.host = host
        self.port = port
        self.latency = latency
        self._mode: FaultMode = mode
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FaultProxy:
        """Start the proxy thread and listen (unless the mode is ``refuse``)."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._loop = loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="fault-proxy", daemon=True)
        self._thread.start()
        ready.wait(5)
        if self.port == 0:
            with socket.socket() as sock:
                sock.bind((self.host, 0))
                self.port = sock.getsockname()[1]
        if self._mode != "refuse":
            self._call(self._listen())
        return self

    def stop(self) -> None:
        """Close every connection, stop listening and end the thread."""
        if self._loop is None or self._thread is None:
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._thread = None
        self._loop = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, scheme: str = "redis", path: str = "/0") -> str:
        """Return ``scheme://host:port{path}`` pointing at the proxy."""
        return f"{scheme}://{self.host}:{self.port}{path}"

    # ------------------------------------------------------------------ mode

    @property
    def mode(self) -> FaultMode:
        """The current fault mode; assigning it takes effect immediately."""
        return self._mode

    @mode.setter
    def mode(self, value: FaultMode) -> None:
        if value not in ("pass", "blackhole", "reset", "refuse"):
            msg = f"unknown fault mode {value!r}"
            raise ValueError(msg)
        old, self._mode = self._mode, value
        if self._loop is None:
            return
        if value in ("reset", "refuse"):
            self._call(self._reset_all())
        if value == "refuse" and old != "refuse":
            self._call(self._unlisten())
        elif value != "refuse" and old == "refuse":
            self._call(self._listen())

    # ------------------------------------------------------------------ internals

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._loop is None:  # pragma: no cover - guarded by callers
            coro.close()
            return
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(5)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port, reuse_address=True, backlog=256)

    async def _unlisten(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _reset_all(self) -> None:
        for writer in list(self._writers):
            _abort(writer)
        self._writers.clear()

    async def _shutdown(self) -> None:
        await self._reset_all()
        await self._unlisten()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self._mode in ("reset", "refuse") or (self._mode == "pass" and self.upstream is None):
            _abort(writer)
            return
        self._writers.add(writer)
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            if self._mode == "blackhole":
                await self._swallow(reader)
                return
            if self.upstream is None:  # pragma: no cover - handled above
                return
            up_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
            self._writers.add(upstream_writer)
            await asyncio.gather(
                self._pipe(reader, upstream_writer, delay=False),
                self._pipe(up_reader, writer, delay=True),
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            _abort(writer)
            if upstream_writer is not None:
                self._writers.discard(upstream_writer)
                _abort(upstream_writer)

    async def _swallow(self, reader: asyncio.StreamReader) -> None:
        while await reader.read(_CHUNK):
            pass

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, delay: bool) -> None:
        while True:
            data = await reader.read(_CHUNK)
            if not data:
                break
            while self._mode == "blackhole":  # noqa: ASYNC110 - the mode is set from another thread
                await asyncio.sleep(0.01)  # hold the data: the peer hears nothing
            if self._mode != "pass":
                break
            if delay and self.latency > 0:
                await asyncio.sleep(self.latency)
            writer.write(data)
            await writer.drain()
        _abort(writer)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with RST rather than FIN, like a crashed peer."""
    transport = writer.transport
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
