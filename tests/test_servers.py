from __future__ import annotations

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
@pytest.mark.anyio
async def test_postgres_fixture_can_restart(postgres_server: PostgresServer) -> None:
    """Stopping and starting keeps the same port, and the server answers again."""
    import asyncpg

    port = postgres_server.port
    postgres_server.stop()
    with pytest.raises(ConnectionRefusedError):
        await asyncpg.connect(postgres_server.url, timeout=2)
    postgres_server.start()
    conn = await asyncpg.connect(postgres_server.url)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()

    assert postgres_server.port == port
