"""Throughput under uvicorn on loopback: requests per second relative to the bare app.

The load generator is wrk when installed, otherwise a small asyncio HTTP/1.1 keep-alive
client in its own process. Every run is bounded in time and connections.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.apps import HOST, ORIGIN

ROOT = Path(__file__).resolve().parent.parent
PATH = "/items/42"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("uvicorn exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("uvicorn did not start")


def _wrk(port: int, seconds: int, connections: int) -> float:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-H", f"Host: {HOST}", "-H", f"Origin: {ORIGIN}",
         f"http://127.0.0.1:{port}{PATH}"],
        capture_output=True, text=True, check=True, timeout=seconds + 30,
    ).stdout  # fmt: skip
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"could not read wrk output: {out[-300:]}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        raise RuntimeError(f"{non2xx.group(1)} non-2xx responses: the comparison would be meaningless")
    return float(match.group(1))


async def _client(port: int, seconds: float, counter: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {PATH} HTTP/1.1\r\nHost: {HOST}\r\nOrigin: {ORIGIN}\r\n\r\n".encode()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            counter[0] += 1
    finally:
        writer.close()


def python_load(port: int, seconds: float, connections: int) -> float:
    """Requests per second from the asyncio client (run in a child process)."""
    counter = [0]

    async def main() -> None:
        await asyncio.gather(*(_client(port, seconds, counter) for _ in range(connections)))

    start = time.monotonic()
    asyncio.run(main())
    return counter[0] / (time.monotonic() - start)


def _load(port: int, seconds: int, connections: int) -> tuple[float, str]:
    if shutil.which("wrk"):
        return _wrk(port, seconds, connections), "wrk"
    code = f"from bench.throughput import python_load; print(python_load({port}, {seconds}, {connections}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         timeout=seconds + 60)  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1]), "python asyncio client"


def measure(app_name: str, *, seconds: int, connections: int) -> tuple[float, str]:
    port = _free_port()
    env = {**os.environ, "BENCH_APP": app_name, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.apps:make_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait(port, proc)
        _load(port, 1, connections)  # warm-up
        return _load(port, seconds, connections)
    finally:
        proc.terminate()
        proc.wait(10)


def run(*, seconds: int = 5, connections: int = 32) -> list[dict[str, Any]]:
    names = ["bare starlette", "hardening: full stack", "peer: stack of the four"]
    rows: list[dict[str, Any]] = []
    bare_rps: float | None = None
    for name in names:
        rps, tool = measure(name, seconds=seconds, connections=connections)
        bare_rps = bare_rps or rps
        rows.append({"app": name, "requests_per_second": round(rps), "relative_to_bare": round(rps / bare_rps, 3),
                     "load_generator": tool, "connections": connections, "seconds": seconds})  # fmt: skip
        print(f"  {name:<32} {rps:9.0f} req/s  {rps / bare_rps:6.1%} of bare  ({tool})", flush=True)
    return rows
