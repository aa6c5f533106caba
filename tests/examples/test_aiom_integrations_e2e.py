"""AIOM talking to its upstreams over real HTTP: Anthropic's Messages API and Odoo's JSON-RPC.

The upstreams are local stand-ins (a uvicorn thread) speaking the real wire formats;
the service under test is a REAL uvicorn subprocess. The API key is a canary that must
reach the upstream and nothing else (responses, problem documents, logs).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.examples.aiom_server import (
    FAKE_ANTHROPIC_REPLY,
    AIOMProcess,
    Upstream,
    aiom_server,
    fake_upstreams,
)
from tests.uvicorn_server import ThreadServer

pytestmark = [pytest.mark.e2e, pytest.mark.needs_extras]

API_KEY = "sk-ant-canary-0a1b2c3d4e5f"
BUDGET = 1.0


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[ThreadServer, Upstream]]:
    record = Upstream()
    with ThreadServer(fake_upstreams(record)) as server:
        yield server, record


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, upstream: tuple[ThreadServer, Upstream]) -> Iterator[AIOMProcess]:
    fake, _ = upstream
    env = {
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": fake.url,
        "ANTHROPIC_MODEL": "claude-test",
        "ODOO_URL": fake.url,
        "AI_RATE_LIMIT": "50/minute",
        "AI_DAILY_BUDGET_USD": str(BUDGET),
        "HARDENING_HEALTH__DETAILS": "always",
    }
    with aiom_server(tmp_path_factory.mktemp("aiom-int"), env) as running:
        yield running


@pytest.fixture
def client(server: AIOMProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http


def test_summary_calls_anthropic_and_records_cost(
    client: httpx.Client, upstream: tuple[ThreadServer, Upstream]
) -> None:
    _, record = upstream
    created = client.post("/api/operations", json={"title": "Restock", "notes": "Pallets of item 42 are low."})
    response = client.post("/api/ai/summary", json={"operation_id": created.json()["id"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["provider"] == "anthropic"
    assert body["summary"] == FAKE_ANTHROPIC_REPLY
    assert "notice" not in body
    expected_cost = round(120 * 0.80 / 1e6 + 20 * 4.00 / 1e6, 6)
    assert body["usage"] == {"input_tokens": 120, "output_tokens": 20, "cost_usd": expected_cost}

    call = record.anthropic_calls[-1]
    assert call["headers"]["x-api-key"] == API_KEY
    assert call["headers"]["anthropic-version"] == "2023-06-01"
    assert call["body"]["model"] == "claude-test"
    assert "Pallets of item 42 are low." in call["body"]["messages"][0]["content"]
    usage = client.get("/api/ai/usage").json()
    assert usage["cost_usd"] == pytest.approx(expected_cost)
    assert usage["today_cost_usd"] == pytest.approx(expected_cost)


def test_provider_overload_is_a_503_with_retry_after(client: httpx.Client) -> None:
    calls_before = client.get("/api/ai/usage").json()["calls"]
    response = client.post("/api/ai/summary", json={"text": "[[busy]] please"})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:aiom:problem:ai-busy"
    assert response.headers["retry-after"] == "7"
    assert API_KEY not in response.text
    assert client.get("/api/ai/usage").json()["calls"] == calls_before  # nothing billed, nothing recorded


def test_erp_sync_calls_odoo(client: httpx.Client, upstream: tuple[ThreadServer, Upstream]) -> None:
    _, record = upstream
    response = client.post("/api/erp/sync")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["erp"] == {"server_version": "17.0", "protocol_version": 1}
    assert body["unsynced_operations"] >= 1
    assert record.odoo_calls[-1]["params"] == {"service": "common", "method": "version", "args": []}


def test_health_checks_every_dependency(client: httpx.Client) -> None:
    health = client.get("/health")
    assert health.status_code == 200
    checks = health.json()["checks"]
    assert {"database:responseTime", "erp:responseTime", "ratelimit:store"} <= set(checks)
    assert all(entry[0]["status"] == "pass" for entry in checks.values()), checks


def test_daily_budget_stops_spending(client: httpx.Client) -> None:
    expensive = client.post("/api/ai/summary", json={"text": "[[expensive]] a very long answer"})
    assert expensive.status_code == 200
    assert expensive.json()["usage"]["cost_usd"] > BUDGET
    refused = client.post("/api/ai/summary", json={"text": "one more"})
    assert refused.status_code == 429
    assert refused.json()["type"] == "urn:aiom:problem:ai-budget-exhausted"
    assert 0 < int(refused.headers["retry-after"]) <= 86_400


def test_key_never_leaves_for_anywhere_but_the_provider(server: AIOMProcess, client: httpx.Client) -> None:
    for path in ("/", "/health", "/api/ai/usage"):
        assert API_KEY not in client.get(path).text
    assert API_KEY not in server.log()
    assert "Traceback" not in server.log()
