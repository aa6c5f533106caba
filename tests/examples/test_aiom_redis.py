"""Two uvicorn workers sharing a REAL Redis: one global limit, and no 5xx when Redis dies."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from examples.loadtest import run_load

from tests.examples.aiom_server import aiom_server
from tests.servers import RedisServer, require_or_skip

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.needs_extras]

NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)  # a new connection per request: both workers serve


async def _summaries(url: str, count: int) -> list[int]:
    async with httpx.AsyncClient(base_url=url, limits=NO_KEEPALIVE, timeout=10) as client:
        responses = await asyncio.gather(
            *(client.post("/api/ai/summary", json={"text": "Pallets are low."}) for _ in range(count))
        )
    return [response.status_code for response in responses]


@pytest.mark.anyio
async def test_two_workers_enforce_one_global_limit(redis_server: RedisServer, tmp_path: Path) -> None:
    require_or_skip(sys.platform.startswith("linux"), "counting uvicorn workers reads /proc")
    limit = 8
    env = {
        "REDIS_URL": redis_server.url,
        "AI_RATE_LIMIT": f"{limit}/minute",
        # A burst on a cold pool opens many Redis connections at once; on a busy test machine
        # that can pass the default 50 ms deadline and (correctly) switch to the per-worker
        # fallback. This test is about the shared store, so give Redis time to answer.
        "HARDENING_RATE_LIMIT__DEADLINE": "1.0",
        "HARDENING_RATE_LIMIT__CONNECT_TIMEOUT": "1.0",
    }
    with aiom_server(tmp_path, env, workers=2) as server:
        assert len(server.worker_pids()) == 2
        statuses = await _summaries(server.url, 3 * limit)
        assert statuses.count(200) == limit, statuses
        assert statuses.count(429) == 2 * limit
        assert httpx.get(f"{server.url}/readyz").status_code == 200


@pytest.mark.anyio
async def test_redis_killed_under_load_gives_no_5xx_and_limits_hold(redis_server: RedisServer, tmp_path: Path) -> None:
    limit = 6
    env = {
        "REDIS_URL": redis_server.url,
        "AI_RATE_LIMIT": f"{limit}/minute",
        "HARDENING_RATE_LIMIT__DEFAULT_LIMITS": "100000/minute",
    }
    with aiom_server(tmp_path, env, workers=2) as server:

        async def chaos() -> list[int]:
            await anyio.sleep(1.0)
            await anyio.to_thread.run_sync(redis_server.stop)  # SIGKILL, like a crash
            statuses = []
            for _ in range(4 * limit):
                statuses.extend(await _summaries(server.url, 1))
            return statuses

        load_task = asyncio.ensure_future(
            run_load([f"{server.url}/api/operations"], requests=3000, duration=3.0, concurrency=6)
        )
        after_kill = await chaos()
        report = await load_task

        assert report.sent > 50
        assert report.server_errors == 0, report.text()
        assert not [status for status in after_kill if status >= 500], after_kill
        # Each worker falls back to its share of the limit (6 / 2 workers), so together they
        # still admit at most the global limit, and reject the rest.
        assert 1 <= after_kill.count(200) <= limit, after_kill
        assert after_kill.count(429) >= len(after_kill) - limit
        # Redis is informational for readiness: the service stays in rotation.
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        assert "Traceback" not in server.log()
