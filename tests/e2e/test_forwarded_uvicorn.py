"""Forged client addresses through a real uvicorn: two X-Forwarded-For field lines.

A client sends its own ``X-Forwarded-For`` line and the trusted proxy (here: the test,
on 127.0.0.1) adds a second one with the address it saw, as HAProxy's ``option
forwardfor`` does. Raw sockets, so the two lines reach uvicorn exactly as written. With
and without uvicorn's own ``--proxy-headers``, the limiter must key on the proxy-added
address: 5 admitted against 5/minute, whatever the client writes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from tests.extras import import_extra
from tests.servers import free_port

from hardening import HardeningSettings, harden

pytestmark = [pytest.mark.e2e, pytest.mark.needs_extras, pytest.mark.anyio]

LIMIT = 5
REQUESTS = 12


async def _hello(_: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


def _app() -> object:
    import_extra("limits", "hardening[ratelimit]")
    settings = HardeningSettings.model_validate(
        {
            "environment": "development",
            "proxy": {"trusted_proxies": ["127.0.0.1"]},
            "rate_limit": {"storage_uri": "async+memory://", "default_limits": f"{LIMIT}/minute"},
        }
    )
    return harden(Starlette(routes=[Route("/", _hello)]), settings)


@contextlib.asynccontextmanager
async def _uvicorn(*, proxy_headers: bool) -> AsyncIterator[int]:
    port = free_port()
    config = uvicorn.Config(
        _app(),  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        proxy_headers=proxy_headers,
        forwarded_allow_ips="127.0.0.1",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        await task


async def _status(port: int, forged: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"X-Forwarded-For: {forged}\r\n".encode()
            + b"X-Forwarded-For: 203.0.113.7\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        line = await reader.readline()
        return int(line.split()[1])
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


@pytest.mark.parametrize("proxy_headers", [False, True], ids=["hardening-resolves", "uvicorn-proxy-headers"])
async def test_two_field_lines_cannot_choose_the_rate_limit_key(proxy_headers: bool) -> None:
    async with _uvicorn(proxy_headers=proxy_headers) as port:
        statuses = [await _status(port, f"6.6.6.{i}") for i in range(REQUESTS)]
    admitted = statuses.count(200)
    print(f"FIGURES two XFF lines, proxy_headers={proxy_headers}: admitted {admitted} vs limit {LIMIT}, "
          f"429 {statuses.count(429)}, 5xx {sum(s >= 500 for s in statuses)}")  # fmt: skip
    assert admitted == LIMIT
    assert statuses.count(429) == REQUESTS - LIMIT
