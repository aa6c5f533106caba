"""A bounded load test for a service on this machine (the gap report's P2-8).

Sends at most ``--requests`` requests for at most ``--duration`` seconds with
``--concurrency`` clients, to loopback addresses only, and prints the status codes and
latency percentiles. Exit status 1 when any response is a 5xx or a transport error
(a server that sheds load answers 429 or 503 with ``Retry-After``, never 500).

    python examples/loadtest.py --url http://127.0.0.1:8000/api/operations --requests 2000
    python examples/loadtest.py --url http://127.0.0.1:8000/api/ai/summary --method POST \\
        --json '{"text": "Pallets are low."}' --requests 50 --concurrency 5

Hard caps (100 000 requests, 300 s, 256 clients) keep a typo from turning it into a
denial of service; it refuses any non-loopback target.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import math
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = ["MAX_CONCURRENCY", "MAX_DURATION", "MAX_REQUESTS", "LoadReport", "check_loopback", "run_load"]

MAX_REQUESTS = 100_000
MAX_DURATION = 300.0
MAX_CONCURRENCY = 256


@dataclass
class LoadReport:
    """What a load run saw."""

    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    timeline: list[tuple[float, int]] = field(default_factory=list)
    """``(seconds since start, status)`` per response (status 0: transport error)."""

    @property
    def sent(self) -> int:
        """Requests that got an answer or an error."""
        return sum(self.statuses.values()) + sum(self.errors.values())

    @property
    def server_errors(self) -> int:
        """5xx responses plus transport errors: what a hardened service never gives."""
        return sum(count for status, count in self.statuses.items() if status >= 500) + sum(self.errors.values())

    def percentile(self, q: float) -> float:
        """Latency percentile ``q`` (0-100) in milliseconds (nearest rank)."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(q / 100 * len(ordered)))
        return ordered[rank - 1] * 1000

    def text(self) -> str:
        """A short human-readable summary."""
        rate = self.sent / self.elapsed if self.elapsed else 0.0
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items()))
        lines = [
            f"requests   {self.sent} in {self.elapsed:.2f} s ({rate:.0f}/s)",
            f"statuses   {statuses or '-'}",
            f"latency    p50 {self.percentile(50):.1f} ms, p95 {self.percentile(95):.1f} ms, "
            f"p99 {self.percentile(99):.1f} ms, max {self.percentile(100):.1f} ms",
        ]
        if self.errors:
            lines.append("errors     " + ", ".join(f"{name}: {count}" for name, count in self.errors.most_common()))
        lines.append(f"5xx+errors {self.server_errors}")
        return "\n".join(lines)


def check_loopback(url: str) -> None:
    """Refuse any URL whose host is not a loopback address.

    Raises:
        ValueError: The URL is not http(s), or its host resolves to a non-loopback address.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        msg = f"{url!r} is not an http:// or https:// URL"
        raise ValueError(msg)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        msg = f"cannot resolve {parts.hostname!r}: {exc}"
        raise ValueError(msg) from None
    addresses = {info[4][0] for info in infos}
    if not addresses or not all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses):
        msg = f"{parts.hostname!r} is not a loopback address; this load test only targets this machine"
        raise ValueError(msg)


async def run_load(
    urls: list[str],
    *,
    requests: int = 1000,
    duration: float = 10.0,
    concurrency: int = 10,
    method: str = "GET",
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> LoadReport:
    """Send at most ``requests`` requests for at most ``duration`` seconds, round-robin over ``urls``.

    Raises:
        ValueError: A bound is out of range or a URL is not on loopback.
    """
    if not urls:
        msg = "give at least one URL"
        raise ValueError(msg)
    if not 1 <= requests <= MAX_REQUESTS:
        msg = f"requests must be 1 to {MAX_REQUESTS}"
        raise ValueError(msg)
    if not 0 < duration <= MAX_DURATION:
        msg = f"duration must be more than 0 and at most {MAX_DURATION:g} seconds"
        raise ValueError(msg)
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        msg = f"concurrency must be 1 to {MAX_CONCURRENCY}"
        raise ValueError(msg)
    for url in urls:
        check_loopback(url)

    report = LoadReport()
    issued = 0
    start = time.monotonic()
    deadline = start + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal issued
        while issued < requests and time.monotonic() < deadline:
            url = urls[issued % len(urls)]
            issued += 1
            began = time.monotonic()
            try:
                response = await client.request(method, url, json=json_body, headers=headers)
            except httpx.HTTPError as exc:
                report.errors[type(exc).__name__] += 1
                report.timeline.append((time.monotonic() - start, 0))
                continue
            now = time.monotonic()
            report.latencies.append(now - began)
            report.statuses[response.status_code] += 1
            report.timeline.append((now - start, response.status_code))

    async with httpx.AsyncClient(limits=limits, timeout=timeout, follow_redirects=False) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
    report.elapsed = time.monotonic() - start
    return report


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the load, print the report."""
    parser = argparse.ArgumentParser(description="Bounded load test against a service on this machine.")
    parser.add_argument("--url", action="append", required=True, help="target URL (repeat for round-robin)")
    parser.add_argument("--requests", type=int, default=1000, help=f"at most this many (cap {MAX_REQUESTS})")
    parser.add_argument("--duration", type=float, default=10.0, help=f"at most seconds (cap {MAX_DURATION:g})")
    parser.add_argument("--concurrency", type=int, default=10, help=f"parallel clients (cap {MAX_CONCURRENCY})")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--json", dest="json_body", help="JSON request body")
    parser.add_argument("--header", action="append", default=[], help="'Name: value' (repeatable)")
    args = parser.parse_args(argv)
    headers = dict(item.split(":", 1) for item in args.header)
    try:
        report = asyncio.run(
            run_load(
                args.url,
                requests=args.requests,
                duration=args.duration,
                concurrency=args.concurrency,
                method=args.method.upper(),
                json_body=json.loads(args.json_body) if args.json_body else None,
                headers={k.strip(): v.strip() for k, v in headers.items()},
            )
        )
    except ValueError as exc:
        print(f"loadtest: {exc}", file=sys.stderr)
        return 2
    print(report.text())
    return 1 if report.server_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
