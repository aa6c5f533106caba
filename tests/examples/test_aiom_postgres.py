"""AIOM on a REAL PostgreSQL: the pool settings reach the server, and an outage is survived."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.examples.aiom_server import aiom_server
from tests.servers import PostgresServer

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.needs_extras]

asyncpg = pytest.importorskip("asyncpg")


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture
def database(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database for this test, dropped afterwards."""
    name = f"aiom_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_server.url, f'CREATE DATABASE "{name}"'))
    base = postgres_server.url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        if not postgres_server.running:
            postgres_server.start()
        asyncio.run(_admin(postgres_server.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _fetch(url: str, query: str) -> list[tuple[object, ...]]:
    conn = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await conn.fetch(query)]
    finally:
        await conn.close()


def _wait_status(client: httpx.Client, path: str, status: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = client.get(path).status_code
        if seen == status:
            return
        time.sleep(0.2)
    pytest.fail(f"{path} stayed {seen}, expected {status}")


def test_aiom_on_postgres(postgres_server: PostgresServer, database: str, tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": database,
        "HARDENING_POOL__APPLICATION_NAME": "aiom-e2e",
        "HARDENING_POOL__POOL_SIZE": "3",
        "HARDENING_POOL__MAX_OVERFLOW": "1",
        "HARDENING_HEALTH__DETAILS": "always",
    }
    with aiom_server(tmp_path, env) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        created = client.post("/api/operations", json={"title": "Count pallets", "notes": "Aisle 4 is short."})
        assert created.status_code == 201, created.text
        summary = client.post("/api/ai/summary", json={"operation_id": created.json()["id"]})
        assert summary.status_code == 200
        rows = asyncio.run(_fetch(database, "SELECT title, status FROM operations"))
        assert rows == [("Count pallets", "pending")]
        usage = asyncio.run(_fetch(database, "SELECT provider, operation_id, cost_microusd FROM ai_usage"))
        assert usage == [("offline", created.json()["id"], 0)]
        # The validated pool settings reached the server: application_name and statement_timeout.
        sessions = asyncio.run(
            _fetch(postgres_server.url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'aiom-e2e'")
        )
        assert 1 <= int(str(sessions[0][0])) <= 4  # pool_size 3 + max_overflow 1
        checks = client.get("/health").json()["checks"]
        assert checks["database:responseTime"][0]["status"] == "pass"

        postgres_server.stop()
        _wait_status(client, "/readyz", 503)
        down = client.get("/api/operations")
        assert down.status_code == 503
        assert down.headers["content-type"] == "application/problem+json"
        assert down.json()["type"] == "urn:aiom:problem:database-unavailable"
        assert down.headers["retry-after"] == "5"
        assert "postgresql" not in down.text.lower()
        assert "Traceback" not in down.text

        postgres_server.start()
        _wait_status(client, "/readyz", 200)
        assert client.get("/api/operations").status_code == 200  # pre-ping replaced the dead connections
