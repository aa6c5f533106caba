"""The AIOM service under a REAL uvicorn subprocess: every route, health, 429, problem+json.

The server trusts 127.0.0.1 as a proxy, so each test speaks for its own client address
(``X-Forwarded-For``) and gets its own rate-limit buckets whatever order the tests run in.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.examples.aiom_server import ROOT, AIOMProcess, aiom_server, clean_environment, wait_ready
from tests.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.needs_extras]

AI_LIMIT = 3
_addresses = itertools.count(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AIOMProcess]:
    env = {
        "AI_RATE_LIMIT": f"{AI_LIMIT}/minute",
        "HARDENING_PROXY__TRUSTED_PROXIES": '["127.0.0.1"]',
        "HARDENING_BODY_LIMIT__MAX_BYTES": "64KiB",
    }
    with aiom_server(tmp_path_factory.mktemp("aiom"), env) as running:
        yield running


@pytest.fixture
def client(server: AIOMProcess) -> Iterator[httpx.Client]:
    """A client with its own address (X-Forwarded-For), hence its own rate-limit buckets."""
    address = f"198.51.100.{next(_addresses)}"
    with httpx.Client(base_url=server.url, headers={"X-Forwarded-For": address}, timeout=10) as http:
        yield http


def assert_problem(response: httpx.Response, status: int, type_: str | None = None) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    if type_ is not None:
        assert body["type"] == type_
    return body


def test_health_endpoints(client: httpx.Client) -> None:
    for path in ("/livez", "/readyz", "/startupz", "/health"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"] == "application/health+json"
        assert response.json()["status"] == "pass"
    # A kubelet probe sends the pod IP as Host: health answers before the host check.
    assert client.get("/readyz", headers={"Host": "10.0.0.7:8000"}).status_code == 200
    assert_problem(client.get("/api/operations", headers={"Host": "evil.example"}), 400)


def test_operations_crud(client: httpx.Client) -> None:
    created = client.post("/api/operations", json={"title": "Restock warehouse 3", "priority": 2, "notes": "Low."})
    assert created.status_code == 201, created.text
    operation = created.json()
    assert created.headers["location"] == f"/api/operations/{operation['id']}"
    assert operation["status"] == "pending"

    assert client.get(created.headers["location"]).json() == operation
    patched = client.patch(created.headers["location"], json={"status": "done"})
    assert patched.status_code == 200
    assert patched.json()["status"] == "done"
    listed = client.get("/api/operations", params={"status": "done", "limit": 100}).json()
    assert operation["id"] in [item["id"] for item in listed["items"]]
    assert listed["total"] >= 1

    assert client.delete(created.headers["location"]).status_code == 204
    assert_problem(client.get(created.headers["location"]), 404, "urn:hardening:problem:not-found")
    assert_problem(client.delete(created.headers["location"]), 404)
    assert_problem(client.patch(created.headers["location"], json={"status": "done"}), 404)


def test_validation_errors_are_problems_without_the_values(client: httpx.Client) -> None:
    invalid = assert_problem(
        client.post("/api/operations", json={"title": "", "priority": 9, "owner": "canary-value-31337"}),
        422,
        "urn:hardening:problem:validation-failed",
    )
    pointers = sorted(error["pointer"] for error in invalid["errors"])  # type: ignore[attr-defined]
    assert pointers == ["/body/owner", "/body/priority", "/body/title"]
    assert "canary-value-31337" not in str(invalid)

    assert_problem(
        client.post("/api/operations", content=b'{"title": "x', headers={"content-type": "application/json"}),
        400,
        "urn:hardening:problem:malformed-json",
    )
    assert_problem(client.post("/api/operations", data={"title": "x"}), 415)
    assert_problem(client.patch("/api/operations/1", json={}), 422)
    path = assert_problem(client.get("/api/operations/abc"), 422)
    assert [e["pointer"] for e in path["errors"]] == ["/path/id"]  # type: ignore[attr-defined]
    query = assert_problem(client.get("/api/operations", params={"limit": 1000}), 422)
    assert [e["pointer"] for e in query["errors"]] == ["/query/limit"]  # type: ignore[attr-defined]
    summary = assert_problem(client.post("/api/ai/summary", json={}), 422)
    assert "either text or operation_id" in str(summary["errors"])


def test_framework_errors_are_problems(client: httpx.Client) -> None:
    assert_problem(client.get("/no/such/route"), 404, "urn:hardening:problem:not-found")
    not_allowed = client.put("/api/operations", json={})
    assert_problem(not_allowed, 405)
    assert set(not_allowed.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    big = client.post("/api/operations", content=b"x" * 100_000, headers={"content-type": "application/json"})
    assert_problem(big, 413, "urn:hardening:problem:body-too-large")


def test_ai_summary_offline_records_usage(client: httpx.Client) -> None:
    before = client.get("/api/ai/usage").json()
    text = "Pallets of item 42 are low. The supplier ships Monday. Confirm the pallets order before Friday."
    response = client.post("/api/ai/summary", json={"text": text})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["provider"] == "offline"
    assert "Offline stand-in" in body["notice"]
    assert body["usage"]["cost_usd"] == 0.0
    assert body["usage"]["input_tokens"] > 0
    after = client.get("/api/ai/usage").json()
    assert after["calls"] == before["calls"] + 1
    assert after["input_tokens"] == before["input_tokens"] + body["usage"]["input_tokens"]


def test_ai_endpoint_has_a_much_stricter_limit(client: httpx.Client) -> None:
    statuses = [client.post("/api/ai/summary", json={"text": "Short note."}).status_code for _ in range(AI_LIMIT + 2)]
    assert statuses == [200] * AI_LIMIT + [429, 429]
    rejected = client.post("/api/ai/summary", json={"text": "Short note."})
    body = assert_problem(rejected, 429, "urn:hardening:problem:rate-limited")
    assert "ai-summary" in str(body["violated-policies"])
    assert int(rejected.headers["retry-after"]) >= 1
    assert "ai-summary" in rejected.headers["ratelimit-policy"]
    assert rejected.headers["x-content-type-options"] == "nosniff"  # 429s are hardened too
    # The rest of the API is still open to the same client.
    assert client.get("/api/operations").status_code == 200
    assert client.get("/api/ai/usage").status_code == 200


def test_erp_sync_without_odoo_url(client: httpx.Client) -> None:
    body = assert_problem(client.post("/api/erp/sync"), 503, "urn:aiom:problem:erp-not-configured")
    assert "ODOO_URL" in str(body["detail"])


def test_dashboard_nonce_is_fresh_and_on_every_inline_element(client: httpx.Client) -> None:
    nonces = []
    for _ in range(2):
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        csp = page.headers["content-security-policy"]
        match = re.search(r"script-src 'nonce-([A-Za-z0-9_-]+)' 'strict-dynamic'", csp)
        assert match is not None, csp
        nonce = match.group(1)
        assert page.text.count(f'nonce="{nonce}"') == 2  # the style and the script
        assert page.text.count("<script") == 1
        nonces.append(nonce)
    assert nonces[0] != nonces[1]


def test_api_responses_are_hardened(client: httpx.Client) -> None:
    response = client.get("/api/operations", headers={"X-Request-ID": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"})
    assert response.headers["x-request-id"] == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert "server" not in response.headers
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["x-frame-options"] == "DENY"
    assert "ratelimit" in response.headers


def test_server_log_has_no_traceback(server: AIOMProcess, tmp_path: Path) -> None:
    log = server.log()
    assert "Traceback" not in log
    assert "hardening.access" in log  # one structured line per request, uvicorn's access log off
    assert "uvicorn.access" not in log


def _run_demo(tmp_path: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start run_demo.py as ``nox -s demo`` does; without HARDENING_ENVIRONMENT in ``env`` it picks its own."""
    full = clean_environment({"AIOM_DEMO_DIR": str(tmp_path / "demo"), **env})
    if "HARDENING_ENVIRONMENT" not in env:
        del full["HARDENING_ENVIRONMENT"]
    log = (tmp_path / "demo.log").open("wb")
    try:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "examples" / "aiom" / "run_demo.py"), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full,
            cwd=tmp_path,  # the demo finds the project from its own path, not the working directory
        )
    finally:
        log.close()


def test_demo_script_serves_readyz(tmp_path: Path) -> None:
    port = free_port()
    process = _run_demo(tmp_path, {}, port)
    try:
        wait_ready(AIOMProcess(process, port, tmp_path / "demo.log"))
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
    finally:
        process.terminate()
        process.wait(15)
    output = (tmp_path / "demo.log").read_text()
    assert "environment : development" in output
    assert f"curl http://127.0.0.1:{port}/readyz" in output
    assert (tmp_path / "demo" / "aiom.sqlite3").exists()
    assert "Traceback" not in output


def test_demo_script_fails_fast_on_a_bad_production_configuration(tmp_path: Path) -> None:
    secret = "redis-canary-5e6f7a8b"
    env = {"HARDENING_ENVIRONMENT": "production", "REDIS_URL": f"redis://:{secret}@cache:6379/0"}
    process = _run_demo(tmp_path, env, free_port())
    assert process.wait(30) == 2
    output = (tmp_path / "demo.log").read_text()
    assert "DATABASE_URL" in output
    assert secret not in output
    assert "Traceback" not in output
