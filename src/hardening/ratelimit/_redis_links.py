"""How :class:`~hardening.ratelimit.stores.RedisStore` reaches Redis: one server, Sentinel or a Cluster.

A link runs one decision script in one round trip (``EVALSHA``; ``NOSCRIPT`` loads the
script and runs it again), opens connections and loads the scripts ahead of traffic, and
builds pipelines. Every client is built for a limiter, not for a cache: short connect and
socket timeouts, no client-side retries (the circuit breaker decides what to do about
failures), and a bounded number of connections, waited for at most the connect timeout
(the call's deadline bounds every wait anyway). Building a link does not touch the
network, so the app starts with Redis down.

* ``async+redis://``, ``async+rediss://``, ``async+redis+unix://``: one server through a
  blocking connection pool.
* ``async+redis+sentinel://[[user]:password@]host:port[,host:port...]/service_name``: the
  master the sentinels name, through the same blocking pool; a new connection asks a
  sentinel for the master first. After a failover the old master refuses writes
  (``READONLY``): redis-py drops that connection, and the next one finds the new master.
* ``async+redis+cluster://[[user]:password@]host:port[,host:port...]``: redis-py's cluster
  client; the keys of one decision share a hash tag, so one node runs the script.
"""

from __future__ import annotations

import asyncio
import inspect
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any

from hardening._imports import require
from hardening.errors import ConfigurationError

__all__ = ("ClusterLink", "PoolLink", "build_link", "uri_locations")

_FEATURE = "rate limiting with Redis"


def uri_locations(uri: str) -> tuple[dict[str, str], list[tuple[str, int]], str]:
    """Split a Sentinel or Cluster URI into its credentials, its ``(host, port)`` list and its path.

    The format is ``limits``': ``scheme://[[user]:password@]host:port[,host:port...][/path]``;
    user and password are percent-decoded. Errors never quote the URI (it may hold a password).
    """
    parts = urllib.parse.urlsplit(uri)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    auth: dict[str, str] = {}
    if userinfo:
        user, _, password = userinfo.partition(":")
        if user:
            auth["username"] = urllib.parse.unquote(user)
        if password:
            auth["password"] = urllib.parse.unquote(password)
    locations = []
    for location in hosts.split(","):
        try:
            sub = urllib.parse.urlsplit("//" + location.strip())
            host, port = sub.hostname, sub.port
        except ValueError:
            host = port = None
        if not host or port is None:
            msg = f"the {parts.scheme}:// storage URI needs host:port for every node"
            raise ConfigurationError(msg)
        locations.append((host, port))
    return auth, locations, parts.path


def _client_options(connect_timeout: float, socket_timeout: float) -> dict[str, Any]:
    """Connection settings of every client: short timeouts, no retries, no CLIENT SETINFO."""
    aioredis = require("redis.asyncio", extra="redis", feature=_FEATURE)
    retry_mod = require("redis.asyncio.retry", extra="redis", feature=_FEATURE)
    backoff = require("redis.backoff", extra="redis", feature=_FEATURE)
    # No CLIENT SETINFO on connect: a new connection costs the TCP handshake alone.
    quiet: dict[str, Any] = (
        {"driver_info": None}
        if "driver_info" in inspect.signature(aioredis.connection.AbstractConnection.__init__).parameters
        else {"lib_name": None, "lib_version": None}
    )
    return {
        "socket_connect_timeout": connect_timeout,
        "socket_timeout": socket_timeout,
        "retry": retry_mod.Retry(backoff.NoBackoff(), 0),
        **quiet,
    }


class PoolLink:
    """One server, or the master of a Sentinel service: one pooled connection per decision.

    Args:
        pool: A ``BlockingConnectionPool`` (or the Sentinel pool built on it).
        client: A ``redis.asyncio.Redis`` on that pool (pipelines).
        extra: Clients to close with the pool (the sentinels).
    """

    def __init__(self, pool: Any, client: Any, extra: Sequence[Any] = ()) -> None:
        self.pool = pool
        self.client = client
        self._extra = extra
        self._errors = require("redis.exceptions", extra="redis", feature=_FEATURE)

    async def run(self, sha: str, body: str, keys: Sequence[str], args: Sequence[int | str]) -> Any:
        """Run a script on one pooled connection (one round trip).

        ``NOSCRIPT`` (Redis restarted empty) loads the script on the same connection; a
        connection whose reply may be half read (timeout, cancellation) is closed, never
        reused.
        """
        connection = await self.pool.get_connection()
        try:
            await connection.send_command("EVALSHA", sha, len(keys), *keys, *args)
            try:
                return await connection.read_response()
            except self._errors.NoScriptError:
                await connection.send_command("SCRIPT", "LOAD", body)
                await connection.read_response()
                await connection.send_command("EVALSHA", sha, len(keys), *keys, *args)
                return await connection.read_response()
        except self._errors.ResponseError:
            raise  # a whole reply was read: the connection is fine
        except BaseException:
            await connection.disconnect()  # a reply may be half read: never reuse it
            raise
        finally:
            await self.pool.release(connection)

    async def open(self, connections: int) -> None:
        """Open ``connections`` pooled connections (at once), then give them back."""
        opened = await asyncio.gather(
            *(self.pool.get_connection() for _ in range(max(1, connections))), return_exceptions=True
        )
        for connection in opened:
            if not isinstance(connection, BaseException):
                await self.pool.release(connection)
        for connection in opened:
            if isinstance(connection, BaseException):
                raise connection

    async def load(self, bodies: Iterable[str]) -> None:
        """Load the scripts (one pipelined round trip)."""
        pipe = self.client.pipeline(transaction=False)
        for body in bodies:
            pipe.script_load(body)
        await pipe.execute()

    def pipeline(self) -> Any:
        """A pipeline without a transaction."""
        return self.client.pipeline(transaction=False)

    async def aclose(self) -> None:
        """Close the client, every pooled connection and the sentinels' clients."""
        await self.client.aclose()
        await self.pool.disconnect()
        for client in self._extra:
            await client.aclose()


class ClusterLink:
    """A Redis Cluster through redis-py's cluster client: the script runs on the keys' node.

    Args:
        client: A ``redis.asyncio.RedisCluster`` (no retries).
        max_connections: The most commands in flight at once (each node's cap too: the
            cluster client raises instead of waiting when a node's cap is reached).
    """

    def __init__(self, client: Any, max_connections: int) -> None:
        self.client = client
        self.max_connections = max_connections
        self._slots = asyncio.Semaphore(max_connections)
        self._errors = require("redis.exceptions", extra="redis", feature=_FEATURE)

    async def run(self, sha: str, body: str, keys: Sequence[str], args: Sequence[int | str]) -> Any:
        """Run a script on the node serving ``keys`` (one round trip once the slot map is known).

        ``NOSCRIPT`` (a node restarted empty) loads the script on that node and runs it again.
        """
        client = self.client
        async with self._slots:
            try:
                return await client.execute_command("EVALSHA", sha, len(keys), *keys, *args)
            except self._errors.NoScriptError:
                node = client.get_node_from_key(keys[0])
                await client.execute_command("SCRIPT LOAD", body, target_nodes=node)
                return await client.execute_command("EVALSHA", sha, len(keys), *keys, *args)

    async def open(self, connections: int) -> None:
        """Read the slot map, then open ``connections`` connections over the primaries.

        Spread evenly (at least one each): ``max_connections`` caps the commands in flight
        over all nodes, so the whole "pool" is that many connections, not that many per node.
        """
        client = self.client
        await client.initialize()
        primaries = client.get_primaries()
        count = max(1, min(-(-connections // max(1, len(primaries))), self.max_connections))
        await asyncio.gather(
            *(client.execute_command("PING", target_nodes=node) for node in primaries for _ in range(count))
        )

    async def load(self, bodies: Iterable[str]) -> None:
        """Load the scripts on every primary (``SCRIPT LOAD`` goes to all of them)."""
        client = self.client
        await client.initialize()
        await asyncio.gather(
            *(client.execute_command("SCRIPT LOAD", body, target_nodes=client.PRIMARIES) for body in bodies)
        )

    def pipeline(self) -> Any:
        """A cluster pipeline (commands grouped by node, sent to the nodes at once)."""
        return self.client.pipeline()

    async def aclose(self) -> None:
        """Close every node's connections."""
        await self.client.aclose()


async def _no_command_table(node: Any = None) -> None:
    """Stand-in for the cluster client's ``COMMAND`` lookup (see :func:`build_link`)."""


def build_link(uri: str, *, connect_timeout: float, socket_timeout: float, max_connections: int) -> Any:
    """Build the link ``uri`` names (see the module notes); no network traffic."""
    aioredis = require("redis.asyncio", extra="redis", feature=_FEATURE)
    options = _client_options(connect_timeout, socket_timeout)
    url = uri.removeprefix("async+")
    if url.startswith("redis+cluster://"):
        cluster = require("redis.asyncio.cluster", extra="redis", feature=_FEATURE)
        auth, locations, _ = uri_locations(url)
        client = cluster.RedisCluster(
            startup_nodes=[cluster.ClusterNode(host, port) for host, port in locations],
            max_connections=max_connections,
            **auth,
            **options,
        )
        # redis-py sends COMMAND on every slot-map refresh to learn where each command's
        # keys are, and parses its reply (~200 KB) in Python: 60 ms and more with the event
        # loop blocked, after every node failure. EVALSHA's keys are found without it
        # (its numkeys), and the other commands sent here name their nodes.
        client.commands_parser.initialize = _no_command_table
        return ClusterLink(client, max_connections)
    if url.startswith("redis+sentinel://"):
        sentinel_mod = require("redis.asyncio.sentinel", extra="redis", feature=_FEATURE)
        auth, locations, path = uri_locations(url)
        service = path.strip("/")
        if not service:
            msg = "the redis+sentinel:// storage URI needs the service name as its path: .../mymaster"
            raise ConfigurationError(msg)

        class BlockingSentinelPool(sentinel_mod.SentinelConnectionPool, aioredis.BlockingConnectionPool):  # type: ignore[misc,name-defined]
            """Sentinel's master discovery on a pool that waits for a free connection."""

        sentinel = sentinel_mod.Sentinel(locations, sentinel_kwargs={**auth, **options}, **auth, **options)
        client = sentinel.master_for(
            service,
            connection_pool_class=BlockingSentinelPool,
            max_connections=max_connections,
            timeout=connect_timeout,
        )
        return PoolLink(client.connection_pool, client, sentinel.sentinels)
    if url.startswith("redis+unix://"):
        url = "unix://" + url.removeprefix("redis+unix://")
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=connect_timeout, **options
    )
    return PoolLink(pool, aioredis.Redis(connection_pool=pool))
