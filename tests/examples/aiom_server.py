"""Run the AIOM example for tests: a REAL uvicorn subprocess, fake upstreams in threads.

* :func:`aiom_server` starts ``uvicorn --factory examples.aiom.app:create_app`` on a free
  loopback port with a clean environment (no ``HARDENING_*`` or AIOM variables leak in
  from the caller), waits for ``/readyz`` and stops it afterwards. Its log goes to a
  file, so a chatty server never blocks on a full pipe.
* The fake Anthropic and Odoo servers run in a :class:`tests.uvicorn_server.ThreadServer`.
* :func:`lifespan` drives an app's ASGI lifespan in-process (for ASGITransport tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
AIOM_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_MODEL",
    "ODOO_URL",
    "SENTRY_DSN",
    "WEB_CONCURRENCY",
    "AI_RATE_LIMIT",
    "AI_DAILY_BUDGET_USD",
)
FAKE_ANTHROPIC_REPLY = "Warehouse 3 needs pallets of item 42; confirm the order by Friday."


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without HARDENING_* or AIOM variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARDENING_") and k not in AIOM_VARIABLES}
    env.update({"PYTHONUNBUFFERED": "1", "HARDENING_ENVIRONMENT": "test", "PYTHONPATH": str(ROOT)})
    env.update(extra)
    return env


@dataclass
class AIOMProcess:
    """A running AIOM service."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    url: str = field(init=False)

    def __post_init__(self) -> None:
        self.url = f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything the server wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def worker_pids(self) -> list[int]:
        """PIDs of the uvicorn worker processes (spawned children of the server; Linux only)."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                # "pid (comm) state ppid ...": comm may contain spaces, so split after ")".
                if int(stat.read_text().rpartition(")")[2].split()[1]) != self.process.pid:
                    continue
                # Workers run spawn_main; multiprocessing's resource tracker does not.
                if b"spawn_main" in (stat.parent / "cmdline").read_bytes():
                    pids.append(int(stat.parent.name))
        return sorted(pids)

    def stop(self) -> str:
        """Stop the server (SIGTERM, graceful) and return its log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.log()


def wait_ready(server: AIOMProcess, timeout: float = 30.0) -> None:
    """Wait until ``/readyz`` answers 200, or fail with the server's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            msg = f"AIOM exited with {server.process.returncode}:\n{server.log()}"
            raise RuntimeError(msg)
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}/readyz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    msg = f"AIOM was not ready within {timeout} s:\n{server.log()}"
    raise RuntimeError(msg)


@contextlib.contextmanager
def aiom_server(tmp_path: Path, env: Mapping[str, str] | None = None, *, workers: int = 1) -> Iterator[AIOMProcess]:
    """Start AIOM under uvicorn on a free loopback port; SQLite in ``tmp_path`` unless ``DATABASE_URL`` is given."""
    port = free_port()
    extra = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'aiom.sqlite3'}", **(env or {})}
    if workers > 1:
        extra.setdefault("WEB_CONCURRENCY", str(workers))
    log_path = tmp_path / f"aiom-{port}.log"
    args = [
        sys.executable, "-m", "uvicorn", "--factory", "examples.aiom.app:create_app",
        "--app-dir", str(ROOT), "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--no-server-header", "--no-access-log",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=clean_environment(extra), cwd=ROOT)
    server = AIOMProcess(process, port, log_path)
    try:
        wait_ready(server)
        yield server
    finally:
        server.stop()


@dataclass
class Upstream:
    """What the fake upstreams received."""

    anthropic_calls: list[dict[str, Any]] = field(default_factory=list)
    odoo_calls: list[dict[str, Any]] = field(default_factory=list)


def fake_upstreams(record: Upstream) -> Starlette:
    """One app playing Anthropic's Messages API and Odoo's JSON-RPC and health endpoints.

    The Anthropic side answers 529 ("overloaded") when the prompt contains ``[[busy]]``,
    and reports a million output tokens when it contains ``[[expensive]]``.
    """

    async def messages(request: Request) -> JSONResponse:
        body = await request.json()
        record.anthropic_calls.append({"headers": dict(request.headers), "body": body})
        prompt = body["messages"][0]["content"]
        if "[[busy]]" in prompt:
            error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
            return JSONResponse(error, status_code=529, headers={"retry-after": "7"})
        output_tokens = 1_000_000 if "[[expensive]]" in prompt else 20
        return JSONResponse(
            {
                "id": "msg_test",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": FAKE_ANTHROPIC_REPLY}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 120, "output_tokens": output_tokens},
            }
        )

    async def jsonrpc(request: Request) -> JSONResponse:
        body = await request.json()
        record.odoo_calls.append(body)
        result = {"server_version": "17.0", "server_serie": "17.0", "protocol_version": 1}
        return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "result": result})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "pass"})

    return Starlette(
        routes=[
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/jsonrpc", jsonrpc, methods=["POST"]),
            Route("/web/health", health),
        ]
    )


@contextlib.asynccontextmanager
async def lifespan(app: ASGIApp) -> AsyncIterator[None]:
    """Run ``app``'s lifespan start-up before the block and its shutdown after it."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    task: asyncio.Task[None] = asyncio.create_task(app(scope, inbox.get, outbox.put))  # type: ignore[arg-type]
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        stopped = await outbox.get()
        await task
        assert stopped["type"] == "lifespan.shutdown.complete", stopped
