"""In-process overhead: a synthetic request driven straight through each ASGI app."""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from typing import Any

from starlette.types import ASGIApp, Message

from bench.apps import HOST, ORIGIN, apps

HEADERS = [
    (b"host", HOST.encode()),
    (b"origin", ORIGIN.encode()),
    (b"user-agent", b"bench/1.0"),
    (b"accept", b"application/json"),
    (b"x-request-id", b"0f8fad5b-d9cb-469f-a165-70867728950e"),
]


def _scope() -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": "/items/42",
        "raw_path": b"/items/42",
        "root_path": "",
        "query_string": b"q=1",
        "headers": list(HEADERS),
        "client": ("203.0.113.7", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _drive(app: ASGIApp, n: int) -> float:
    status: list[int] = []
    request: Message = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> Message:
        return request

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    start = time.perf_counter()
    for _ in range(n):
        await app(_scope(), receive, send)
    elapsed = time.perf_counter() - start
    bad = [s for s in status if s != 200]
    if bad:
        msg = f"benchmark app answered {bad[0]}, not 200: the comparison would be meaningless"
        raise RuntimeError(msg)
    return elapsed / n * 1e6


def measure(app: ASGIApp, *, n: int, rounds: int) -> float:
    """Median microseconds per request over ``rounds`` rounds of ``n`` requests."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_drive(app, min(n, 500)))  # warm-up
        results = []
        for _ in range(rounds):
            gc.collect()
            results.append(loop.run_until_complete(_drive(app, n)))
        return statistics.median(results)
    finally:
        loop.close()


def run(*, n: int = 5000, rounds: int = 5) -> list[dict[str, Any]]:
    """Measure every app; return rows with microseconds and the ratio to bare."""
    rows: list[dict[str, Any]] = []
    bare_us: float | None = None
    for name, factory in apps().items():
        try:
            app = factory()
        except Exception as exc:  # a layer that cannot be built is reported
            rows.append({"app": name, "error": f"{type(exc).__name__}: {exc}"})
            continue
        us = measure(app, n=n, rounds=rounds)
        if bare_us is None:
            bare_us = us
        rows.append({"app": name, "us_per_request": round(us, 2), "overhead_us": round(us - bare_us, 2),
                     "ratio_to_bare": round(us / bare_us, 2)})  # fmt: skip
        print(f"  {name:<32} {us:8.2f} us  x{us / bare_us:5.2f}", flush=True)
    return rows
