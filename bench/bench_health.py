"""Health endpoints under a probe storm: check executions and latency percentiles (report only).

Fires N concurrent ``GET /readyz`` (default 1,000) at the health layer, in process through
httpx's ASGI transport, against checks that take 20 ms (async), 20 ms (blocking sync) and
one that hangs past its timeout. Reported per scenario: how many times each check ran
(single flight: 1) and the p50/p90/p99/max response latency. Nothing is asserted.

Run: ``python -m bench.bench_health [--probes 1000]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import httpx

from hardening.health import HealthConfig, HealthMiddleware, HealthRegistry


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _registry(*, hang: bool) -> HealthRegistry:
    async def database() -> None:
        await asyncio.sleep(0.02)

    def legacy_client() -> None:
        time.sleep(0.02)

    async def hung() -> None:
        await asyncio.sleep(30)

    registry = HealthRegistry()
    registry.add("postgres:responseTime", database)
    registry.add("legacy:responseTime", legacy_client)
    if hang:
        registry.add("erp:responseTime", hung, timeout=0.2, critical=False)
    return registry


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _storm(name: str, probes: int, *, hang: bool) -> dict[str, Any]:
    middleware = HealthMiddleware(_app, HealthConfig(deadline=0.8), registry=_registry(hang=hang))
    transport = httpx.ASGITransport(app=middleware)
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(transport=transport, base_url="http://10.0.0.7", limits=limits) as http:

        async def one() -> tuple[float, int]:
            started = time.perf_counter()
            response = await http.get("/readyz")
            return time.perf_counter() - started, response.status_code

        started = time.perf_counter()
        results = await asyncio.gather(*(one() for _ in range(probes)))
        wall = time.perf_counter() - started
    await middleware.runtime.close()
    latencies = [latency * 1000 for latency, _ in results]
    return {
        "scenario": name,
        "probes": probes,
        "statuses": sorted({status for _, status in results}),
        "executions": dict(middleware.runtime.executions),
        "wall_s": round(wall, 3),
        "p50_ms": round(statistics.median(latencies), 2),
        "p90_ms": round(_percentile(latencies, 0.90), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2),
    }


async def main(probes: int) -> list[dict[str, Any]]:
    reports = [
        await _storm("cold cache", probes, hang=False),
        await _storm("cold cache, one check hangs past its 200 ms timeout", probes, hang=True),
    ]
    for report in reports:
        print(f"\n{report['scenario']}")
        for key, value in report.items():
            if key != "scenario":
                print(f"  {key:<11} {value}")
    return reports


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="200 probes (smoke run)")
    args = parser.parse_args()
    results = asyncio.run(main(200 if args.quick else args.probes))
    print(json.dumps({"scenarios": results}))  # last line: read by bench/run.py
