"""A REAL uvicorn server with the library's logging: one JSON schema, one request ID per request."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.servers import free_port, wait_for_port

pytest.importorskip("structlog")
pytest.importorskip("uvicorn")

pytestmark = [pytest.mark.e2e, pytest.mark.needs_extras]

CANARY = "canary-e2e-6b7c8d9e"
HERE = Path(__file__).parent


class Server:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.output = ""

    def stop(self) -> list[dict[str, Any]]:
        """Stop the server and return its stdout lines, each parsed as JSON."""
        self.process.terminate()
        stdout, stderr = self.process.communicate(timeout=15)
        self.output = stdout + stderr
        assert stderr.strip() == "", stderr
        return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture
def server() -> Iterator[Server]:
    port = free_port()
    env = {**os.environ, "E2E_CANARY": CANARY, "PYTHONUNBUFFERED": "1"}
    env.pop("HARDENING_ENVIRONMENT", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "logging_app:app",
            "--app-dir",
            str(HERE),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-server-header",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    running = Server(process, port)
    try:
        wait_for_port(port, 20, process)
    except RuntimeError as exc:
        process.kill()
        pytest.fail(f"uvicorn did not start ({exc}): {process.communicate()}")
    yield running
    if process.poll() is None:
        process.kill()
        process.communicate()


def test_one_json_schema_same_request_id_no_duplicate_access_line(server: Server) -> None:
    with httpx.Client(base_url=server.url) as http:
        response = http.post(
            f"/hello?api_key={CANARY}&page=1",
            json={"password": CANARY},
            headers={"Authorization": f"Bearer {CANARY}", "X-Request-ID": "0f8fad5b-d9cb-469f-a165-70867728950e"},
        )
        failed = http.get("/boom")
    assert response.json()["request_id"] == "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert failed.status_code == 500
    failed_id = failed.headers["x-request-id"]
    assert failed.json()["request_id"] == failed_id

    records = server.stop()
    assert CANARY not in server.output
    for record in records:  # every line, uvicorn's included, is one JSON schema
        assert list(record)[:4] == ["timestamp", "level", "logger", "event"], record
        assert "color_message" not in record
    loggers = {r["logger"] for r in records}
    assert {"uvicorn.error", "app", "app.stdlib", "hardening.access"} <= loggers
    events = [r["event"] for r in records]
    assert any(e.startswith("Started server process") for e in events)
    assert any(e.startswith("Uvicorn running on") for e in events)

    first = [r for r in records if r.get("request_id") == "0f8fad5b-d9cb-469f-a165-70867728950e"]
    assert [r["logger"] for r in first] == ["app", "app.stdlib", "hardening.access"]
    assert first[0]["seen_request_id"] == "0f8fad5b-d9cb-469f-a165-70867728950e"
    access = first[-1]
    assert access["path"] == "/hello?api_key=[REDACTED]&page=1"
    assert access["route"] == "/hello"
    assert access["status"] == 200
    assert access["client_ip"] == "127.0.0.1"
    assert access["request_bytes"] > 0

    # exactly one access line per request: uvicorn's own access log is off
    assert sum(r["logger"] == "hardening.access" for r in records) == 2
    assert not any(r["logger"] == "uvicorn.access" for r in records)
    errors = [r for r in records if r.get("request_id") == failed_id and r["level"] == "error"]
    assert len(errors) == 1
    assert errors[0]["exception"][0]["exc_type"] == "RuntimeError"
    assert all("locals" not in frame for frame in errors[0]["exception"][0]["frames"])


def test_pipelined_requests_on_one_connection_never_share_an_id(server: Server) -> None:
    request = (
        "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /check HTTP/1.1\r\nHost: x\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n"
        "GET /check HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request.encode())  # all three back to back, before any response
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    responses = [part for part in data.split(b"HTTP/1.1 ")[1:]]
    assert len(responses) == 3
    bodies = [json.loads(part.split(b"\r\n\r\n", 1)[1].split(b"\r\n")[0]) for part in responses]
    ids = [body["request_id"] for body in bodies]
    assert len(set(ids)) == 3
    headers = [part.split(b"\r\n\r\n", 1)[0].lower() for part in responses]
    for header, request_id in zip(headers, ids, strict=True):
        assert f"x-request-id: {request_id}".encode() in header
    assert [body["user"] for body in bodies] == ["leaky", None, None]  # no context leaked
    records = server.stop()
    access = [r for r in records if r["logger"] == "hardening.access"]
    assert [r["request_id"] for r in access] == ids
    assert access[1]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert access[2]["trace_id"] is None  # the previous request's trace never leaks
