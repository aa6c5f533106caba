"""Rate-limiting overhead per request, in process, next to slowapi in the same run.

Usage::

    python bench/bench_ratelimit.py [--requests 20000] [--redis-url redis://127.0.0.1:6379/0]

Each app is called directly through ASGI (no HTTP client in the loop). With
``--redis-url`` it also reports Redis round trips per request from Redis' own
``INFO commandstats``. Redis counts the commands a Lua script runs too, so the report
subtracts the commands each library's scripts run (ours: everything but ``EVALSHA``;
``limits``' fixed-window script: ``INCRBY`` and ``EXPIRE``) to get client round trips.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from hardening import build_layer
from hardening.ratelimit import RateLimitConfig


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def bare() -> Starlette:
    return Starlette(routes=[Route("/", hello)])


def ours(uri: str = "async+memory://") -> Any:
    return build_layer(bare(), RateLimitConfig(storage_uri=uri, default_limits="1000000/minute"))


def slowapi_asgi(uri: str = "memory://") -> Any:
    from slowapi import Limiter
    from slowapi.middleware import SlowAPIASGIMiddleware
    from slowapi.util import get_remote_address

    app = bare()
    app.state.limiter = Limiter(
        key_func=get_remote_address, default_limits=["1000000/minute"], storage_uri=uri, headers_enabled=True
    )
    app.add_middleware(SlowAPIASGIMiddleware)
    return app


async def run(app: Any, n: int) -> list[float]:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    times = []
    for i in range(n):
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/",
            "raw_path": b"/",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"bench")],
            "client": (f"10.0.{i % 250}.{i % 200}", 1234),
            "server": ("bench", 80),
            "state": {},
        }
        start = time.perf_counter()
        await app(scope, receive, send)
        times.append(time.perf_counter() - start)
    return times


def commandstats(url: str) -> dict[str, int]:
    import redis

    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return {name: int(value["calls"]) for name, value in stats.items() if name != "cmdstat_info"}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--quick", action="store_true", help="2,000 requests (smoke run)")
    args = parser.parse_args()
    n = 2000 if args.quick else args.requests
    report: dict[str, Any] = {"requests": n, "us_per_request": {}, "redis": {}}
    apps = {"bare starlette": bare(), "hardening (memory)": ours(), "slowapi ASGI (memory)": slowapi_asgi()}
    results: dict[str, float] = {}
    for name, app in apps.items():
        await run(app, 500)  # warm up
        times = await run(app, n)
        results[name] = statistics.median(times)
    base = results["bare starlette"]
    print(f"{'app':28} {'median µs/req':>14} {'overhead µs':>12}")
    for name, median in results.items():
        print(f"{name:28} {median * 1e6:14.1f} {(median - base) * 1e6:12.1f}")
        report["us_per_request"][name] = round(median * 1e6, 2)
    if args.redis_url:
        inner_ours = {"get", "time", "incrby", "pexpire", "pttl", "set", "lrange", "lpush", "ltrim"}
        inner_limits = {"incrby", "expire"}
        for name, app, inner in (
            ("hardening (redis)", ours("async+" + args.redis_url), inner_ours),
            ("slowapi (redis, sync)", slowapi_asgi(args.redis_url), inner_limits),
        ):
            await run(app, 50)
            before = commandstats(args.redis_url)
            times = await run(app, 2000)
            after = commandstats(args.redis_url)
            delta = {
                k.removeprefix("cmdstat_"): after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)
            }
            trips = sum(v for k, v in delta.items() if k not in inner)
            print(
                f"{name:28} median {statistics.median(times) * 1e6:8.1f} µs/req, "
                f"round trips/request: {trips / 2000:.2f}  (server commandstats: {delta})"
            )
            report["redis"][name] = {
                "us_per_request": round(statistics.median(times) * 1e6, 2),
                "round_trips_per_request": round(trips / 2000, 2),
                "commandstats_delta": delta,
            }
    print(json.dumps(report))  # last line: read by bench/run.py


if __name__ == "__main__":
    asyncio.run(main())
