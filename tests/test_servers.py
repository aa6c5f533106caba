from __future__ import annotations

import subprocess

import pytest

from tests.servers import PostgresServer, RedisServer


@pytest.mark.redis
def test_redis_fixture_starts_a_real_server(redis_server: RedisServer) -> None:
    """A real redis-server answers PING, and can be stopped and started on the same port."""
    assert redis_server.ping().startswith(b"+PONG")
    port = redis_server.port

    redis_server.stop()
    with pytest.raises(ConnectionRefusedError):
        redis_server.ping()
    redis_server.start()

    assert redis_server.port == port
    assert redis_server.ping().startswith(b"+PONG")


@pytest.mark.redis
@pytest.mark.anyio
async def test_redis_fixture_speaks_redis_protocol(redis_server: RedisServer) -> None:
    """The redis client library can SET and GET against the fixture."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_server.url)
    try:
        await client.set("k", "v")
        assert await client.get("k") == b"v"
    finally:
        await client.aclose()


@pytest.mark.postgres
@pytest.mark.anyio
async def test_postgres_fixture_starts_a_real_server(postgres_server: PostgresServer) -> None:
    """A real PostgreSQL answers SELECT version() over TCP."""
    import asyncpg

    conn = await asyncpg.connect(postgres_server.url)
    try:
        version = await conn.fetchval("SELECT version()")
    finally:
        await conn.close()

    assert version.startswith("PostgreSQL")


@pytest.mark.postgres
def test_postgres_fixture_can_restart(postgres_server: PostgresServer) -> None:
    """Stopping and starting keeps the same port, and the server answers again."""
    postgres_server.stop()
    postgres_server.start()
    psql = postgres_server.bindir / "psql"
    if not psql.exists():
        pytest.skip("psql not shipped with these binaries")  # the asyncpg test above covers the server
    out = subprocess.run(
        [str(psql), postgres_server.url, "-tAc", "SELECT 1"], capture_output=True, text=True, check=True
    )

    assert out.stdout.strip() == "1"
