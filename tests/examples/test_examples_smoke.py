"""Every example imports, serves and is hardened (in-process, no server needed)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.examples.aiom_server import lifespan
from tests.uvicorn_server import ThreadServer

pytestmark = pytest.mark.needs_extras


def _client(app: object, base_url: str = "http://127.0.0.1:8000") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_minimal_starlette_example() -> None:
    from examples.minimal_starlette import app

    async with _client(app) as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.json() == {"message": "hello, hardened world"}
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "x-request-id" in response.headers


@pytest.mark.anyio
async def test_fastapi_example() -> None:
    pytest.importorskip("fastapi")
    from examples.fastapi_app import app

    async with _client(app) as client:
        created = await client.post("/items", json={"name": "bolt", "quantity": 3})
        invalid = await client.post("/items", json={"name": "bolt", "quantity": 99999})
        reports = [(await client.get("/reports/expensive")).status_code for _ in range(3)]
        docs = await client.get("/docs")
    assert created.status_code == 201
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    assert [e["pointer"] for e in invalid.json()["errors"]] == ["/body/quantity"]
    assert "99999" not in invalid.text
    assert reports == [200, 200, 429]
    assert docs.status_code == 200
    assert "'unsafe-inline'" not in docs.headers["content-security-policy"]
    assert "cdn.jsdelivr.net" not in docs.headers["content-security-policy"]
    assert '<script nonce="' in docs.text


@pytest.mark.anyio
async def test_bare_asgi_example() -> None:
    from examples.bare_asgi import app

    async with lifespan(app), _client(app) as client:
        hello = await client.get("/anything")
        boom = await client.get("/boom")
        ready = await client.get("/readyz")
    assert hello.json() == {"path": "/anything", "message": "hello from bare ASGI"}
    assert hello.headers["x-frame-options"] == "DENY"
    assert boom.status_code == 500
    assert boom.headers["content-type"] == "application/problem+json"
    assert boom.json()["request_id"] == boom.headers["x-request-id"]
    assert ready.status_code == 200


@pytest.mark.anyio
async def test_aiom_in_process(tmp_path: Path) -> None:
    from examples.aiom.app import build_app
    from examples.aiom.settings import load

    settings = load(
        environ={"HARDENING_ENVIRONMENT": "test", "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"}
    )
    app = build_app(settings)
    async with lifespan(app), _client(app) as client:
        assert (await client.get("/readyz")).status_code == 200
        created = await client.post("/api/operations", json={"title": "Count pallets", "priority": 2})
        assert created.status_code == 201
        summary = await client.post("/api/ai/summary", json={"operation_id": created.json()["id"]})
        assert summary.status_code == 200
        assert summary.json()["provider"] == "offline"
        assert summary.json()["notice"].startswith("Offline stand-in")
        page = await client.get("/")
    nonce = re.search(r"'nonce-([^']+)'", page.headers["content-security-policy"])
    assert nonce is not None
    assert f'<script nonce="{nonce.group(1)}">' in page.text


@pytest.mark.anyio
async def test_aiom_openapi_documents_every_route_and_its_problems(tmp_path: Path) -> None:
    from examples.aiom.app import build_app
    from examples.aiom.settings import load

    settings = load(
        environ={"HARDENING_ENVIRONMENT": "test", "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"}
    )
    app = build_app(settings)
    async with lifespan(app), _client(app) as client:
        response = await client.get("/openapi.json")
        form = await client.post("/api/operations", data={"title": "x"})
    assert response.status_code == 200
    document = response.json()
    operations = {(method, path) for path, item in document["paths"].items() for method in item}
    assert operations == {
        ("get", "/api/operations"), ("post", "/api/operations"), ("get", "/api/operations/{id}"),
        ("patch", "/api/operations/{id}"), ("delete", "/api/operations/{id}"), ("post", "/api/ai/summary"),
        ("get", "/api/ai/usage"), ("post", "/api/erp/sync"),
    }  # fmt: skip
    summary = document["paths"]["/api/ai/summary"]["post"]["responses"]
    assert {"404", "413", "415", "422", "429", "502", "504"} <= summary.keys()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    # The schema says what the validators do: exactly one of text and operation_id, no nulls.
    summary_in = document["components"]["schemas"]["SummaryIn"]
    assert summary_in["oneOf"] == [{"required": ["text"]}, {"required": ["operation_id"]}]
    assert summary_in["properties"]["text"]["type"] == "string"
    assert document["components"]["schemas"]["OperationPatch"]["minProperties"] == 1
    assert form.status_code == 415  # a form is not JSON (FastAPI alone answers 422)
    assert form.headers["accept-post"] == "application/json"


def test_aiom_settings_report_names_every_problem_without_values() -> None:
    from examples.aiom.settings import load

    from hardening import ConfigurationError

    secret = "postgres-canary-9f8e7d6c"
    with pytest.raises(ConfigurationError) as caught:
        load(
            environ={
                "HARDENING_ENVIRONMENT": "production",
                "ODOO_URL": "ftp://erp",
                "AI_MAX_TOKENS": "-1",
                "REDIS_URL": f"redis://:{secret}@cache:6379/0",
            }
        )
    report = str(caught.value)
    for variable in ("DATABASE_URL", "ODOO_URL", "AI_MAX_TOKENS"):
        assert variable in report
    assert secret not in report


def test_aiom_folds_service_variables_into_library_settings() -> None:
    from examples.aiom.settings import effective_hardening, load

    settings = load(
        environ={
            "HARDENING_ENVIRONMENT": "development",
            "REDIS_URL": "redis://127.0.0.1:6390/2",
            "SENTRY_DSN": "https://key@o1.ingest.sentry.io/1",
        }
    )
    hardening = effective_hardening(settings)
    assert hardening.rate_limit.storage_uri.get_secret_value() == "async+redis://127.0.0.1:6390/2"
    assert hardening.sentry.dsn is not None
    assert hardening.sentry.dsn.get_secret_value() == "https://key@o1.ingest.sentry.io/1"


def test_offline_summary_is_labelled_and_free() -> None:
    from examples.aiom.ai import offline_summary

    text = "The supplier ships on Monday. Pallets of item 42 are low. Confirm pallets before Friday. Weather is fine."
    summary = offline_summary(text)
    assert summary.provider == "offline"
    assert summary.cost_usd == 0.0
    assert "Offline stand-in" in (summary.notice or "")
    assert summary.text
    assert len(summary.text) < len(text)
    assert summary.input_tokens > summary.output_tokens > 0


def test_demo_defaults_and_banner(tmp_path: Path) -> None:
    from examples.aiom.run_demo import banner, demo_environment

    env = demo_environment({"AIOM_DEMO_DIR": str(tmp_path)})
    assert env["HARDENING_ENVIRONMENT"] == "development"
    assert env["DATABASE_URL"] == f"sqlite+aiosqlite:///{tmp_path / 'aiom.sqlite3'}"
    assert demo_environment({"DATABASE_URL": "postgresql://db/aiom", "HARDENING_ENVIRONMENT": "staging"}) == {}
    assert demo_environment({"HARDENING_ENVIRONMENT": "production"}) == {}  # no SQLite fallback there
    text = banner(
        {"HARDENING_ENVIRONMENT": "development", "DATABASE_URL": "postgresql://app:pw-canary@db/aiom",
         "REDIS_URL": "redis://:redis-canary@cache:6379/0"},
        "127.0.0.1", 8000,
    )  # fmt: skip
    assert "http://127.0.0.1:8000/readyz" in text
    assert "http://127.0.0.1:8000/docs" in text
    assert "pw-canary" not in text
    assert "redis-canary" not in text


def test_loadtest_refuses_non_loopback_and_out_of_bounds() -> None:
    from examples.loadtest import MAX_REQUESTS, check_loopback, main, run_load

    check_loopback("http://127.0.0.1:8000/")
    check_loopback("http://localhost:8000/")
    for url in ("http://192.0.2.1/", "http://10.0.0.1:8000/", "ftp://127.0.0.1/"):
        with pytest.raises(ValueError, match=r"loopback|http"):
            check_loopback(url)
    with pytest.raises(ValueError, match="requests"):
        asyncio.run(run_load(["http://127.0.0.1:1/"], requests=MAX_REQUESTS + 1))
    with pytest.raises(ValueError, match="duration"):
        asyncio.run(run_load(["http://127.0.0.1:1/"], duration=0))
    assert main(["--url", "http://192.0.2.1/", "--requests", "1"]) == 2


def test_loadtest_is_bounded_by_count(capsys: pytest.CaptureFixture[str]) -> None:
    from examples.loadtest import main, run_load

    async def ok(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    with ThreadServer(Starlette(routes=[Route("/", ok)])) as server:
        report = asyncio.run(run_load([server.url + "/"], requests=40, duration=20, concurrency=4))
        assert main(["--url", server.url + "/", "--requests", "10", "--concurrency", "2"]) == 0
    assert report.sent == 40
    assert report.statuses == {200: 40}
    assert report.server_errors == 0
    assert 0 < report.percentile(50) <= report.percentile(99)
    assert "requests   10 in" in capsys.readouterr().out


@pytest.mark.e2e
def test_demo_serves_without_server_header_and_its_load_test_command_works(tmp_path: Path) -> None:
    """``python examples/aiom/run_demo.py`` (what ``nox -s demo`` runs): the banner's commands are true."""
    import shlex
    import subprocess
    import sys

    from tests.examples.aiom_server import ROOT, AIOMProcess, clean_environment, wait_ready
    from tests.servers import free_port

    port = free_port()
    log_path = tmp_path / "demo.log"
    env = clean_environment({"AIOM_DEMO_DIR": str(tmp_path), "HARDENING_ENVIRONMENT": "development"})
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "examples" / "aiom" / "run_demo.py"), "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
        )  # fmt: skip
    server = AIOMProcess(process, port, log_path)
    try:
        wait_ready(server)
        response = httpx.get(f"{server.url}/api/operations", timeout=10)
        assert response.status_code == 200
        assert "server" not in response.headers  # uvicorn's own header is off (server_header=False)
        line = next(line.strip() for line in server.log().splitlines() if "examples/loadtest.py" in line)
        command = shlex.split(line)
        assert command[0] == sys.executable
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "requests" in done.stdout
        print(done.stdout)
    finally:
        server.stop()
