"""Body deadlines under a REAL uvicorn, with raw sockets: slow bodies get 408 and a closed socket.

The server runs in a subprocess with small limits (0.8 s grace, 100 B/s minimum, 2 s
whole body), so its memory (RSS) and open descriptors (``/proc/<pid>/fd``) can be read
before and after 300 concurrent slow bodies.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.servers import free_port, wait_for_port

pytestmark = [pytest.mark.e2e, pytest.mark.needs_extras]

HERE = Path(__file__).parent
GRACE = 0.8
MIN_RATE = 100
TIMEOUT = 2.0
CONCURRENT = 300
HELD = 3.0
HEADERS = b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"


class Server:
    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def rss(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")  # pragma: no cover


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HARDENING_")},
        "HARDENING_ENVIRONMENT": "test",
        "HARDENING_HOSTS__ALLOWED_HOSTS": '["127.0.0.1"]',
        "HARDENING_BODY_LIMIT__TIMEOUT": str(TIMEOUT),
        "HARDENING_BODY_LIMIT__MIN_RATE": str(MIN_RATE),
        "HARDENING_BODY_LIMIT__MIN_RATE_GRACE": str(GRACE),
        # 300 connections take a while to open on a busy machine: a longer grace there,
        # so all of them are held at once before the first is cut.
        "HARDENING_BODY_LIMIT__TIME_PATHS": json.dumps({"/held": {"min_rate_grace": HELD, "timeout": HELD}}),
        "HARDENING_RATE_LIMIT__ENABLED": "false",
    }
    command = [sys.executable, "-m", "uvicorn", "bodytime_app:app", "--app-dir", str(HERE)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        wait_for_port(port, 20, process)
    except RuntimeError as exc:
        process.kill()
        pytest.fail(f"uvicorn did not start ({exc}): {process.communicate()}")
    yield Server(process, port)
    process.terminate()
    try:
        process.communicate(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover
        process.kill()
        process.communicate()


def read_until_closed(sock: socket.socket, limit: float) -> bytes:
    """Everything the server sends until it closes the connection (or ``limit`` seconds pass)."""
    sock.settimeout(limit)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {limit} s; got {data!r}")
    return data


def status_and_body(data: bytes) -> tuple[int, dict[str, object], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body else {}, head.lower()


def test_a_trickling_body_gets_408_and_the_connection_is_closed(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(HEADERS + b"Content-Length: 1000\r\n\r\n")
        started = time.monotonic()
        sock.setblocking(False)
        data = b""
        while time.monotonic() - started < 10:  # one byte every 50 ms: 20 B/s, under 100 B/s
            try:
                sock.send(b"x")
            except OSError:
                break
            time.sleep(0.05)
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:
                continue
            data += chunk
            if not chunk:
                break
        sock.setblocking(True)
        data += read_until_closed(sock, 5)
        closed_after = time.monotonic() - started
    status, problem, head = status_and_body(data)
    print(f"\ntrickle at 20 B/s (min {MIN_RATE} B/s after {GRACE} s): 408 and closed after {closed_after:.2f} s")
    assert status == 408
    assert b"content-type: application/problem+json" in head
    assert b"connection: close" in head
    assert problem["status"] == 408
    assert problem["min_bytes_per_second"] == MIN_RATE


def test_a_stalled_body_is_cut_after_the_grace_period(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(HEADERS + b"Content-Length: 1000\r\n\r\n" + b"x" * 10)
        started = time.monotonic()
        data = read_until_closed(sock, 8)
        closed_after = time.monotonic() - started
    status, problem, _ = status_and_body(data)
    print(f"\nstalled body: 408 and closed after {closed_after:.2f} s")
    assert status == 408
    assert problem["received_bytes"] == 10


def test_a_body_fast_enough_but_too_long_hits_the_whole_body_timeout(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(HEADERS + b"Content-Length: 100000\r\n\r\n")
        started = time.monotonic()
        sock.setblocking(False)
        data = b""
        while time.monotonic() - started < 10:  # 50 bytes every 100 ms: 500 B/s, over the minimum
            try:
                sock.send(b"y" * 50)
                time.sleep(0.1)
                chunk = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                break
            data += chunk
            if not chunk:
                break
        closed_after = time.monotonic() - started
    status, problem, _ = status_and_body(data)
    print(f"\n500 B/s body: 408 after the {TIMEOUT} s whole-body timeout, closed after {closed_after:.2f} s")
    assert status == 408
    assert problem["timeout_seconds"] == TIMEOUT


def test_a_body_in_time_is_accepted(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(HEADERS + b"Content-Length: 300\r\n\r\n" + b"z" * 150)
        time.sleep(0.3)
        sock.sendall(b"z" * 150)
        sock.settimeout(5)
        data = b""
        while not data.endswith(b"bytes") and (chunk := sock.recv(65536)):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200")
    assert data.endswith(b"300 bytes")


def slow_round(server: Server) -> tuple[list[int], int, float, int]:
    """Open CONCURRENT stalled uploads at once; return their statuses, how many stayed open,
    the seconds until the server had closed them all, and the server's descriptors while held."""
    selector = selectors.DefaultSelector()
    sockets: list[socket.socket] = []
    started = time.monotonic()
    for _ in range(CONCURRENT):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(HEADERS.replace(b"/upload", b"/held") + b"Content-Length: 1000000\r\n\r\n" + b"s" * 10)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        sockets.append(sock)
    fds_held = server.fds()  # the peak: uvicorn may still be accepting some
    open_sockets = set(sockets)
    statuses: list[int] = []
    buffers: dict[socket.socket, bytes] = {}
    by_fd = {sock.fileno(): sock for sock in sockets}
    deadline = time.monotonic() + HELD + 8
    while open_sockets and time.monotonic() < deadline:
        if not statuses:
            fds_held = max(fds_held, server.fds())
        for key, _ in selector.select(timeout=0.05):
            sock = by_fd[key.fd]
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                chunk = b""
            if chunk:
                buffers[sock] = buffers.get(sock, b"") + chunk
                continue
            selector.unregister(sock)
            open_sockets.discard(sock)
            statuses.append(status_and_body(buffers.get(sock, b"HTTP/1.1 0 none\r\n\r\n"))[0])
    all_closed = time.monotonic() - started
    still_open = len(open_sockets)
    for sock in sockets:
        sock.close()
    selector.close()
    time.sleep(0.3)
    return statuses, still_open, all_closed, fds_held


def test_300_concurrent_slow_bodies_leave_no_descriptor_or_memory_behind(server: Server) -> None:
    # Warm up (first requests allocate caches), then take the baseline.
    for _ in range(3):
        test_a_body_in_time_is_accepted(server)
    time.sleep(0.2)
    fds_before, rss_before = server.fds(), server.rss()
    rounds = []
    for number in (1, 2):
        statuses, still_open, all_closed, fds_held = slow_round(server)
        fds_after, rss_after = server.fds(), server.rss()
        rounds.append((fds_after, rss_after))
        print(
            f"\nround {number}: {CONCURRENT} concurrent stalled bodies: {statuses.count(408)} answered 408, "
            f"{still_open} still open; all closed after {all_closed:.2f} s; server fds {fds_before} -> "
            f"{fds_held} held -> {fds_after}; RSS {rss_before / 2**20:.1f} -> {rss_after / 2**20:.1f} MiB"
        )
        assert still_open == 0
        assert statuses == [408] * CONCURRENT
        assert fds_held >= fds_before + CONCURRENT  # they were all held at once
        assert fds_after <= fds_before  # every descriptor came back
    # CPython keeps freed memory for reuse, so RSS stays at the first round's high-water
    # mark; a second round reuses it instead of growing: nothing is kept per connection.
    (_, rss_first), (_, rss_second) = rounds
    assert rss_second <= rss_first + 2 * 2**20
