"""The endpoints: health+json format, status mapping, HEAD, details policy, lifecycle, config."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from hardening import build_layer
from hardening.health import (
    CheckResult,
    HealthConfig,
    HealthMiddleware,
    HealthRegistry,
)
from hardening.health.rules import CHECKS
from hardening.redaction import register_secret
from hardening.settings import HardeningSettings
from tests.health.helpers import body_of, client, inner_app, make
from tests.health.schema import validate_health_json

pytestmark = pytest.mark.anyio

TOKEN = "health-token-0123456789abcdef"


def registry_with(**checks: Any) -> HealthRegistry:
    registry = HealthRegistry()
    for name, outcome in checks.items():
        registry.add(name.replace("__", ":"), _constant(outcome))
    return registry


def _constant(value: object) -> Any:
    def check() -> object:
        return value

    return check


async def test_default_layer_serves_liveness_readiness_startup_and_health() -> None:
    app = make()
    async with client(app) as http:
        responses = {path: await http.get(path) for path in ("/livez", "/readyz", "/startupz", "/health")}
        other = await http.get("/somewhere")
    for response in responses.values():
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/health+json"
        assert response.headers["cache-control"] == "no-store"
        assert body_of(response) == {"status": "pass"}
        assert len(response.content) < 10 * 1024
    assert other.text == "app"


async def test_critical_fail_is_503_with_retry_after_and_liveness_stays_up() -> None:
    app = make(registry_with(db__ping=False), details="always", retry_after=7)
    async with client(app) as http:
        ready = await http.get("/readyz")
        live = await http.get("/livez")
        health = await http.get("/health")
    assert ready.status_code == 503
    assert ready.headers["retry-after"] == "7"
    assert body_of(ready)["status"] == "fail"
    assert live.status_code == 200
    assert "db:ping" not in body_of(live)["checks"]
    assert health.status_code == 503
    assert validate_health_json(body_of(health), health.status_code) == []


async def test_informational_fail_is_200_warn() -> None:
    registry = HealthRegistry()
    registry.add("erp:responseTime", lambda: False, critical=False)
    registry.add("db:ping", lambda: True)
    app = make(registry, details="always")
    async with client(app) as http:
        ready = await http.get("/readyz")
        health = await http.get("/health")
        startup = await http.get("/startupz")
    assert ready.status_code == 200
    body = body_of(ready)
    assert body["status"] == "warn"
    assert body["checks"]["erp:responseTime"][0]["status"] == "fail"
    assert body["checks"]["erp:responseTime"][0]["critical"] is False
    assert "erp:responseTime" in body["output"]
    assert health.status_code == 200
    assert startup.status_code == 200
    assert "erp:responseTime" not in body_of(startup).get("checks", {})


async def test_head_has_same_status_and_no_body_other_methods_405() -> None:
    app = make(registry_with(db__ping=False))
    async with client(app) as http:
        head = await http.head("/readyz")
        post = await http.post("/readyz")
    assert head.status_code == 503
    assert head.content == b""
    assert post.status_code == 405
    assert post.headers["allow"] == "GET, HEAD"
    assert post.headers["content-type"] == "application/problem+json"


async def test_accept_json_gets_application_json() -> None:
    async with client(make()) as http:
        response = await http.get("/health", headers={"accept": "application/json"})
    assert response.headers["content-type"] == "application/json"


async def test_trailing_slash_is_accepted() -> None:
    async with client(make()) as http:
        assert (await http.get("/readyz/")).status_code == 200


async def test_details_never_shows_only_status() -> None:
    app = make(registry_with(db__ping=False))
    async with client(app) as http:
        response = await http.get("/health", headers={"authorization": f"Bearer {TOKEN}"})
    assert body_of(response) == {"status": "fail"}


async def test_details_with_token() -> None:
    app = make(registry_with(db__ping=True), details="token", token=TOKEN)
    async with client(app) as http:
        anonymous = await http.get("/health")
        wrong = await http.get("/health", headers={"authorization": "Bearer nope"})
        bearer = await http.get("/health", headers={"authorization": f"Bearer {TOKEN}"})
        header = await http.get("/health", headers={"x-health-token": TOKEN})
    assert body_of(anonymous) == {"status": "pass"}
    assert body_of(wrong) == {"status": "pass"}
    assert "checks" in body_of(bearer)
    assert "checks" in body_of(header)
    assert TOKEN not in bearer.text


async def test_service_fields_in_detailed_view() -> None:
    app = make(details="always", service_id="orders-api", version="1", release_id="2026.1", description="Orders")
    async with client(app) as http:
        body = body_of(await http.get("/health"))
    assert body["serviceId"] == "orders-api"
    assert body["version"] == "1"
    assert body["releaseId"] == "2026.1"
    assert body["description"] == "Orders"
    assert body["checks"]["uptime"][0]["observedUnit"] == "s"


async def test_secrets_in_outputs_are_redacted() -> None:
    canary = "s3cr3t-canary-value"
    register_secret("registered-canary-9876")

    def leaky() -> None:
        msg = f"could not connect to postgresql://app:{canary}@db:5432/app (token registered-canary-9876)"
        raise ConnectionError(msg)

    async def leaky_value() -> CheckResult:
        return CheckResult.warned("pool", {"password": canary, "dsn": "x"}, "connections")

    registry = HealthRegistry()
    registry.add("db:ping", leaky)
    registry.add("db:connections", leaky_value)
    app = make(registry, details="always", metrics_path="/metrics/health")
    async with client(app) as http:
        text = (await http.get("/health")).text + (await http.get("/metrics/health")).text
    assert canary not in text
    assert "registered-canary-9876" not in text
    assert "[REDACTED]" in text


async def test_openmetrics_serves_cached_results_without_rerun() -> None:
    registry = registry_with(db__ping=True, erp__status=False)
    app = make(registry, metrics_path="/metrics/health")
    async with client(app) as http:
        await http.get("/health")
        before = dict(app.runtime.executions)
        metrics = await http.get("/metrics/health")
        again = await http.get("/metrics/health")
    assert app.runtime.executions == before
    assert metrics.headers["content-type"].startswith("application/openmetrics-text")
    assert 'hardening_health_check_status{check="db:ping",status="pass"} 1' in metrics.text
    assert 'hardening_health_check_status{check="erp:status",status="fail"} 0' in metrics.text
    assert metrics.text.endswith("# EOF\n")
    assert again.status_code == 200


async def test_metrics_need_token_under_token_policy() -> None:
    app = make(details="token", token=TOKEN, metrics_path="/metrics/health")
    async with client(app) as http:
        anonymous = await http.get("/metrics/health")
        allowed = await http.get("/metrics/health", headers={"authorization": f"Bearer {TOKEN}"})
    assert anonymous.status_code == 401
    assert allowed.status_code == 200


async def lifespan_events(app: Any, *events: str) -> tuple[asyncio.Queue[dict[str, Any]], asyncio.Task[None]]:
    """Start a lifespan conversation with ``app`` and return its input queue and task."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put))
    for event in events:
        await inbox.put({"type": event})
        await asyncio.wait_for(outbox.get(), 5)
    return inbox, task


async def test_lifecycle_startup_warmup_and_shutdown() -> None:
    warmed = asyncio.Event()
    release = asyncio.Event()

    async def warmup() -> None:
        await release.wait()
        warmed.set()

    registry = HealthRegistry()
    registry.add_warmup(warmup)
    app = make(registry, details="always")
    app.runtime.begin_startup()  # as if lifespan.startup had been received
    async with client(app) as http:
        starting = await http.get("/readyz")
        assert starting.status_code == 503
        assert (await http.get("/livez")).status_code == 200
        assert (await http.get("/startupz")).status_code == 503

        inbox, task = await lifespan_events(app, "lifespan.startup")
        assert (await http.get("/readyz")).status_code == 503  # warm-up still running
        assert (await http.get("/startupz")).status_code == 503
        release.set()
        await asyncio.wait_for(warmed.wait(), 5)
        await asyncio.sleep(0)
        assert (await http.get("/readyz")).status_code == 200
        assert (await http.get("/startupz")).status_code == 200

        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(task, 5)
        stopping = await http.get("/readyz")
        assert stopping.status_code == 503
        assert body_of(stopping)["output"] == "shutting down"
        assert (await http.get("/livez")).status_code == 200
    assert body_of(starting)["output"] == "starting"


async def test_failed_warmup_keeps_readiness_down() -> None:
    def broken() -> None:
        raise RuntimeError("cache preload failed for redis://:pw-canary-1@cache:6379")

    registry = HealthRegistry()
    registry.add_warmup(broken, name="preload")
    app = make(registry, details="always")
    _inbox, _task = await lifespan_events(app, "lifespan.startup")
    await asyncio.sleep(0.05)
    async with client(app) as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert "preload" in body_of(response)["output"]
    assert "pw-canary-1" not in response.text
    _task.cancel()


async def test_startup_probe_is_sticky_once_started() -> None:
    outcome = {"ok": True}
    registry = HealthRegistry()
    registry.add("db:ping", lambda: outcome["ok"], pass_ttl=0, fail_ttl=0)
    app = make(registry)
    async with client(app) as http:
        assert (await http.get("/startupz")).status_code == 200
        outcome["ok"] = False
        assert (await http.get("/startupz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 503


# -- the health+json schema, as an invariant over every combination of outcomes -------------

outcome = st.sampled_from(["pass", "warn", "fail", "raise", "none", "false"])
criticality = st.booleans()


@given(st.lists(st.tuples(outcome, criticality), min_size=0, max_size=6))
def test_health_json_is_valid_and_status_matches_aggregation(cases: list[tuple[str, bool]]) -> None:
    registry = HealthRegistry()
    expected = "pass"
    rank = {"pass": 0, "warn": 1, "fail": 2}
    for index, (kind, critical) in enumerate(cases):
        registry.add(f"dep{index}:check", _outcome_function(kind), critical=critical)
        status = {"pass": "pass", "none": "pass", "warn": "warn"}.get(kind, "fail")
        if status == "fail" and not critical:
            status = "warn"
        expected = status if rank[status] > rank[expected] else expected
    app = HealthMiddleware(inner_app, HealthConfig(details="always"), registry=registry)

    async def probe() -> tuple[int, bytes]:
        async with client(app) as http:
            response = await http.get("/readyz")
        await app.runtime.close()
        return response.status_code, response.content

    status_code, content = asyncio.run(probe())
    body = json.loads(content)
    assert validate_health_json(body, status_code) == []
    assert body["status"] == expected
    assert status_code == (503 if expected == "fail" else 200)


def _outcome_function(kind: str) -> Any:
    def function() -> Any:
        if kind == "raise":
            raise ValueError("boom")
        return {
            "pass": CheckResult.passed(3, "ms"),
            "warn": CheckResult.warned("slow", 900, "ms"),
            "fail": CheckResult.failed("down"),
            "none": None,
            "false": False,
        }[kind]

    return function


def test_schema_validator_rejects_bad_documents() -> None:
    assert validate_health_json({"status": "fail"}, 200)
    assert validate_health_json({"status": "pass", "output": "x"}, 200)
    assert validate_health_json({"status": "pass", "checks": {"a:b:c": [{"status": "pass"}]}}, 200)
    assert validate_health_json({"status": "pass", "checks": {"a": {"status": "pass"}}}, 200)
    assert validate_health_json({"status": "pass", "checks": {"a": [{"status": "pass", "observedValue": 1}]}}, 200)
    assert validate_health_json({"status": "pass", "checks": {"a": [{"status": "pass", "time": "yesterday"}]}}, 200)


# -- configuration -----------------------------------------------------------------------------


def test_config_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDENING_HEALTH__DEADLINE", "0.5")
    monkeypatch.setenv("HARDENING_HEALTH__READINESS_PATH", "/ready")
    monkeypatch.setenv("HARDENING_HEALTH__METRICS_PATH", "")
    monkeypatch.setenv("HARDENING_HEALTH__DETAILS", "token")
    monkeypatch.setenv("HARDENING_HEALTH__TOKEN", TOKEN)
    health = HardeningSettings().health
    assert health.deadline == 0.5
    assert health.readiness_path == "/ready"
    assert health.metrics_path is None
    assert health.token is not None
    assert health.token.get_secret_value() == TOKEN
    assert TOKEN not in repr(health)


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"deadline": 0}, "deadline"),
        ({"fail_ttl": -1}, "fail_ttl"),
        ({"readiness_path": "readyz"}, "readiness_path"),
        ({"liveness_path": "/livez\r\nX-Injected: 1"}, "liveness_path"),
        ({"readiness_path": "/livez"}, "must be distinct"),
        ({"details": "token"}, "but token is empty"),
        ({"sync_workers": 0}, "sync_workers"),
        ({"retry_after": -1}, "retry_after"),
    ],
)
def test_config_errors_built_in_code_name_the_field(fields: dict[str, Any], fragment: str) -> None:
    """Built in code, an error names the field; only the settings loader names variables."""
    with pytest.raises(ValidationError, match=fragment) as info:
        HealthConfig(**fields)
    assert "HARDENING_" not in str(info.value)


def test_registry_rejects_bad_names_and_duplicates() -> None:
    registry = HealthRegistry()
    registry.add("db:ping", lambda: True)
    with pytest.raises(ValueError, match="already registered"):
        registry.add("db:ping", lambda: True)
    with pytest.raises(ValueError, match="component:measurement"):
        registry.add("a:b:c", lambda: True)
    with pytest.raises(TypeError, match="callable"):
        registry.add("x:y", "not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown group"):
        registry.add("x:y", lambda: True, groups={"everything": "critical"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="timeout"):
        registry.add("x:y", lambda: True, timeout=0)


def test_disabled_layer_returns_the_app() -> None:
    assert build_layer(inner_app, HealthConfig(enabled=False)) is inner_app


def test_production_rules() -> None:
    def ids(settings: HardeningSettings) -> set[str]:
        return {finding.id for rule in CHECKS for finding in rule(settings)}

    safe = HardeningSettings(environment="production")
    assert ids(safe) == set()
    risky = HardeningSettings(
        environment="production",
        health=HealthConfig(details="always", deadline=2, token="short"),
    )
    assert ids(risky) == {"HARDENING-HEALTH-002", "HARDENING-HEALTH-003", "HARDENING-HEALTH-004"}
    off = HardeningSettings(environment="production", health=HealthConfig(enabled=False))
    assert ids(off) == {"HARDENING-HEALTH-001"}


@pytest.mark.needs_extras  # harden() defaults need hardening[headers,ratelimit]
async def test_harden_mounts_health_before_host_checks() -> None:
    from hardening import harden

    registry = HealthRegistry()
    registry.add("db:ping", lambda: True)
    settings = HardeningSettings(environment="production")
    app = harden(inner_app, settings, health=registry)
    async with client(app) as http:
        response = await http.get("http://10.0.0.7:8000/readyz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/health+json"


async def test_registry_decorator_remove_and_introspection() -> None:
    registry = HealthRegistry()

    @registry.check("cache:ping", critical=False)
    async def cache_ping() -> bool:
        return True

    registry.add_warmup(lambda: None, name="noop")
    assert "cache:ping" in registry
    assert len(registry) == 1
    assert [spec.name for spec in registry] == ["cache:ping"]
    assert registry.specs()[0].is_async
    assert registry.specs()[0].criticality("readiness") == "informational"
    assert registry.specs()[0].criticality("liveness") is None
    assert [name for name, _ in registry.warmups] == ["noop"]
    assert "cache:ping" in repr(registry)
    registry.remove("cache:ping")
    assert "cache:ping" not in registry
    with pytest.raises(TypeError, match="callable"):
        registry.add_warmup("nope")  # type: ignore[arg-type]
