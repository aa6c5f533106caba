"""In-process overhead: a synthetic request driven straight through each ASGI app."""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from typing import Any

from starlette.types import ASGIApp, Message

from bench.apps import HOST, ORIGIN, apps, full_stack_layers, hardened, hardened_without, prepare

HEADERS = [
    (b"host", HOST.encode()),
    (b"origin", ORIGIN.encode()),
    (b"user-agent", b"bench/1.0"),
    (b"accept", b"application/json"),
    (b"x-request-id", b"0f8fad5b-d9cb-469f-a165-70867728950e"),
]


BROWSER_HEADERS = [
    (b"host", HOST.encode()),
    (b"connection", b"keep-alive"),
    (b"sec-ch-ua", b'"Chromium";v="131", "Not_A Brand";v="24"'),
    (b"sec-ch-ua-mobile", b"?0"),
    (b"sec-ch-ua-platform", b'"Linux"'),
    (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                    b"Chrome/131.0.0.0 Safari/537.36"),
    (b"accept", b"application/json, text/plain, */*"),
    (b"origin", ORIGIN.encode()),
    (b"sec-fetch-site", b"same-site"),
    (b"sec-fetch-mode", b"cors"),
    (b"sec-fetch-dest", b"empty"),
    (b"referer", ORIGIN.encode() + b"/dashboard"),
    (b"accept-encoding", b"gzip, deflate, br, zstd"),
    (b"accept-language", b"en-GB,en;q=0.9"),
]  # fmt: skip
"""What a browser's ``fetch()`` sends: 14 headers and no ``X-Request-ID`` (one is made)."""


def _scope(headers: list[tuple[bytes, bytes]] = HEADERS) -> dict[str, Any]:
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
        "headers": list(headers),
        "client": ("203.0.113.7", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _drive(app: ASGIApp, n: int, headers: list[tuple[bytes, bytes]] = HEADERS) -> float:
    status: list[int] = []
    request: Message = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> Message:
        return request

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    start = time.perf_counter()
    for _ in range(n):
        await app(_scope(headers), receive, send)
    elapsed = time.perf_counter() - start
    bad = [s for s in status if s != 200]
    if bad:
        msg = f"benchmark app answered {bad[0]}, not 200: the comparison would be meaningless"
        raise RuntimeError(msg)
    return elapsed / n * 1e6


BROWSER_APPS: tuple[str, ...] = (
    "bare starlette",
    "hardening: full stack",
    "hardening: the peer stack's four features",
    "peer: stack of the four",
)
"""The apps measured again with :data:`BROWSER_HEADERS`."""


def run(
    *,
    n: int = 2000,
    rounds: int = 15,
    only: tuple[str, ...] | None = None,
    headers: list[tuple[bytes, bytes]] = HEADERS,
) -> list[dict[str, Any]]:
    """Measure every app (or those named in ``only``); return rows with microseconds and the ratio to bare.

    The rounds are interleaved (round 1 of every app, then round 2, ...) so that a burst
    of load from elsewhere on the machine hits every app alike instead of one. Each app's
    figure is its fastest round, as ``timeit`` recommends: slower rounds measure the other
    processes on the machine, not the app. The median round is kept in the JSON too.
    """
    built: dict[str, ASGIApp] = {}
    rows: dict[str, dict[str, Any]] = {}
    loop = asyncio.new_event_loop()
    try:
        for name, factory in apps().items():
            if only is not None and name not in only:
                continue
            try:
                app = factory()
                prepare(name)
                loop.run_until_complete(_drive(app, min(n, 500), headers))  # warm-up; proves it answers 200
            except Exception as exc:  # a layer that cannot be built or answer is reported
                rows[name] = {"app": name, "error": f"{type(exc).__name__}: {exc}"}
                continue
            built[name] = app
        samples: dict[str, list[float]] = {name: [] for name in built}
        for _ in range(rounds):
            for name, app in built.items():
                prepare(name)
                gc.collect()
                samples[name].append(loop.run_until_complete(_drive(app, n, headers)))
    finally:
        loop.close()
    bare_us = min(samples["bare starlette"])
    for name, values in samples.items():
        us = min(values)
        rows[name] = {"app": name, "us_per_request": round(us, 2), "overhead_us": round(us - bare_us, 2),
                      "ratio_to_bare": round(us / bare_us, 2), "median_us": round(statistics.median(values), 2),
                      "requests_per_round": n, "rounds": rounds}  # fmt: skip
    ordered = [rows[name] for name in apps() if name in rows]
    for row in ordered:
        if "error" in row:
            print(f"  {row['app']:<40} not available: {row['error']}", flush=True)
        else:
            print(f"  {row['app']:<40} {row['us_per_request']:8.2f} us  +{row['overhead_us']:7.2f}  "
                  f"x{row['ratio_to_bare']:5.2f}", flush=True)  # fmt: skip
    return ordered


def marginal(*, n: int = 100, rounds: int = 41) -> list[dict[str, Any]]:
    """What each layer costs in place: the full stack against the full stack less that layer.

    Each round runs the full stack and, right after it, the stack without one layer; the
    figure is the median of those paired differences. Short rounds in many pairs let load
    from elsewhere on the machine hit both sides of a pair alike and cancel out, instead of
    landing on one layer.
    """
    prepare("hardening: full stack")
    full = hardened()
    without = {layer: hardened_without(layer) for layer in full_stack_layers()}
    differences: dict[str, list[float]] = {layer: [] for layer in without}
    loop = asyncio.new_event_loop()
    try:
        for app in (full, *without.values()):
            loop.run_until_complete(_drive(app, min(n, 300)))
        for _ in range(rounds):
            for layer, app in without.items():
                gc.collect()
                with_layer = loop.run_until_complete(_drive(full, n))
                gc.collect()
                differences[layer].append(with_layer - loop.run_until_complete(_drive(app, n)))
    finally:
        loop.close()
    rows = []
    for layer, values in differences.items():
        us = statistics.median(values)
        quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else [us, us, us]
        rows.append({"layer": layer, "cost_in_full_stack_us": round(us, 2),
                     "spread_us": round(quartiles[2] - quartiles[0], 2)})  # fmt: skip
        print(f"  {layer:<16} {us:7.2f} us in place", flush=True)
    return rows
