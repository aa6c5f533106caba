"""Throughput under ASGI servers on loopback: requests per second beside the header control and the bare app.

uvicorn runs in two configurations: ``uvicorn[standard]`` (httptools and uvloop, what a
production deployment installs) and plain ``uvicorn`` (h11 and asyncio, pure Python);
Granian and Hypercorn follow. The first share reported is against the header control
(the bare app sending the same response headers), the ceiling of any middleware that
sends them.
The same overhead is a larger share of a faster server's time, so the first is the
harder test. The load generator is wrk when installed, otherwise a small asyncio
HTTP/1.1 keep-alive client in its own process. Every run is bounded in time and
connections.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.apps import HEADERS_ONLY_APP, HOST, ORIGIN, PEER_FEATURES_APP, PRODUCTION_PEER_APP

ROOT = Path(__file__).resolve().parent.parent
PATH = "/items/42"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Wait until ``proc`` accepts connections on ``port`` (raises if it exits or times out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the server did not listen on port {port}")


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


def server_configurations() -> list[tuple[str, list[str]]]:
    """The servers to measure: ``(label, command line before the app)``, the production one first.

    ``uvicorn[standard]`` (httptools, uvloop), plain ``uvicorn`` (h11, asyncio), Granian
    (Rust, its ASGI interface) and Hypercorn, each one process with one worker. A server
    that is not installed is left out with a line saying so (the bench group installs all).
    """
    uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "--no-access-log", "--log-level", "warning"]
    configurations: list[tuple[str, list[str]]] = []
    missing = [name for name in ("httptools", "uvloop") if importlib.util.find_spec(name) is None]
    if missing:
        print(f"  (uvicorn[standard] not measured: {' and '.join(missing)} not installed)", flush=True)
    else:
        configurations.append(("uvicorn[standard]: httptools, uvloop", [*uvicorn, "--http", "httptools",
                                                                        "--loop", "uvloop"]))  # fmt: skip
    configurations.append(("uvicorn: h11, asyncio", [*uvicorn, "--http", "h11", "--loop", "asyncio"]))
    if importlib.util.find_spec("granian") is None:
        print("  (Granian not measured: granian not installed)", flush=True)
    else:
        granian = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--workers", "1",
                   "--no-access-log", "--log-level", "warning"]  # fmt: skip
        configurations.append(("granian: asgi, 1 worker", granian))
    if importlib.util.find_spec("hypercorn") is None:
        print("  (Hypercorn not measured: hypercorn not installed)", flush=True)
    else:
        configurations.append(("hypercorn: h11, asyncio", [sys.executable, "-m", "hypercorn", "--log-level",
                                                           "warning"]))  # fmt: skip
    return configurations


def _command(prefix: list[str], port: int) -> list[str]:
    """The full command line serving ``bench.apps:make_app`` on ``port`` with the server of ``prefix``."""
    if "hypercorn" in prefix:
        return [*prefix, "--bind", f"127.0.0.1:{port}", "bench.apps:make_app()"]
    return [*prefix, "--host", "127.0.0.1", "--port", str(port), "bench.apps:make_app"]


def _serve(app_name: str, prefix: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "BENCH_APP": app_name, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(_command(prefix, port), env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for_port(port, proc)
    except BaseException:
        proc.kill()
        proc.wait(10)
        raise
    return proc, port


APPS: tuple[str, ...] = (
    "bare starlette",
    HEADERS_ONLY_APP,
    "hardening: full stack",
    "hardening: full stack, JSON log lines",
    PEER_FEATURES_APP,
    "peer: stack of the four",
    PRODUCTION_PEER_APP,
)
"""The apps served by each server, bare first."""


def run(*, seconds: int = 5, connections: int = 32, rounds: int = 3) -> list[dict[str, Any]]:
    """Measure every app in every server configuration (see :func:`run_configuration`)."""
    rows: list[dict[str, Any]] = []
    for label, options in server_configurations():
        print(f"  {label}", flush=True)
        rows += run_configuration(label, options, seconds=seconds, connections=connections, rounds=rounds)
    return rows


def run_configuration(
    label: str, options: list[str], *, seconds: int, connections: int, rounds: int
) -> list[dict[str, Any]]:
    """Serve every app at once (one server process each, started by ``options``) and load them in turn.

    The rounds are interleaved (every app once, then again) and each app's figure is
    its best round, so that load from elsewhere on the machine does not decide which
    app looks faster. Servers are ended when done, whatever happens.
    """
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    samples: dict[str, list[float]] = {name: [] for name in APPS}
    tool = "wrk" if shutil.which("wrk") else "python asyncio client"
    try:
        for name in APPS:
            servers[name] = _serve(name, options)
            _load(servers[name][1], 1, connections)  # warm-up; proves it answers 200
        for _ in range(rounds):
            for name in APPS:
                rps, tool = _load(servers[name][1], seconds, connections)
                samples[name].append(rps)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
        for proc, _ in servers.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    bare_rps = max(samples[APPS[0]])
    control_rps = max(samples[HEADERS_ONLY_APP])
    rows: list[dict[str, Any]] = []
    for name in APPS:
        rps = max(samples[name])
        rows.append({"app": name, "server": label, "requests_per_second": round(rps),
                     "relative_to_bare": round(rps / bare_rps, 3),
                     "relative_to_header_control": round(rps / control_rps, 3),
                     "median_requests_per_second": round(statistics.median(samples[name])),
                     "load_generator": tool, "connections": connections, "seconds": seconds,
                     "rounds": rounds})  # fmt: skip
        print(f"    {name:<50} {rps:9.0f} req/s  {rps / control_rps:6.1%} of the header control  "
              f"{rps / bare_rps:6.1%} of bare  ({tool})", flush=True)  # fmt: skip
    return rows
