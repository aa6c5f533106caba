"""The built-in local and network checks: HTTP dependency, disk, event-loop lag, rate limiter."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from hardening.errors import MissingDependencyError
from hardening.health import (
    DiskSpaceCheck,
    EventLoopLagCheck,
    HealthRegistry,
    HTTPCheck,
    RateLimiterCheck,
    SQLAlchemyCheck,
)
from hardening.health.result import CheckResult
from tests.health.helpers import body_of, client, make
from tests.servers import free_port

pytestmark = pytest.mark.anyio


@pytest.fixture
async def http_server() -> AsyncIterator[dict[str, Any]]:
    """A real HTTP/1.1 server on loopback whose status code the test chooses."""
    state: dict[str, Any] = {"status": 200, "delay": 0.0, "requests": []}

    handlers: set[asyncio.Task[Any]] = set()

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            state["requests"].append(head)
            await asyncio.sleep(state["delay"])
            writer.write(f"HTTP/1.1 {state['status']} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await respond(reader, writer)
        finally:
            handlers.discard(task)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state["url"] = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/status?key=abc"
    async with server:
        yield state
        for task in list(handlers):
            task.cancel()
        await asyncio.sleep(0.01)


async def test_http_check_statuses(http_server: dict[str, Any]) -> None:
    check = HTTPCheck(http_server["url"], headers={"X-Api-Key": "k-canary-1"})
    assert (await check()).status == "pass"
    http_server["status"] = 429
    assert (await check()).status == "warn"
    http_server["status"] = 500
    result = await check()
    assert result.status == "fail"
    assert result.output == "HTTP 500, expected [200, 204]"
    request = http_server["requests"][0]
    assert request.startswith(b"GET /status?key=abc HTTP/1.1\r\n")
    assert b"X-Api-Key: k-canary-1" in request


async def test_http_check_refused_and_slow_through_the_endpoint(http_server: dict[str, Any]) -> None:
    registry = HealthRegistry()
    registry.add("erp:responseTime", HTTPCheck(f"http://127.0.0.1:{free_port()}/"), critical=False)
    http_server["delay"] = 5
    registry.add("ai:responseTime", HTTPCheck(http_server["url"]), timeout=0.2)
    app = make(registry, details="always", deadline=0.5)
    async with client(app) as http:
        started = time.monotonic()
        response = await http.get("/readyz")
        assert time.monotonic() - started < 1.5
    checks = body_of(response)["checks"]
    assert checks["erp:responseTime"][0]["status"] == "fail"
    assert "ConnectionRefusedError" in checks["erp:responseTime"][0]["output"]
    assert "timeout" in checks["ai:responseTime"][0]["output"]
    assert response.status_code == 503
    await app.runtime.close()


def test_http_check_rejects_other_schemes_without_echoing_credentials() -> None:
    with pytest.raises(ValueError, match="http") as info:
        HTTPCheck("ftp://user:pw-canary@host/")
    assert "pw-canary" not in str(info.value)
    assert "pw-canary" not in repr(HTTPCheck("https://user:pw-canary@example.com/"))


def test_disk_space_check(tmp_path: Any) -> None:
    assert DiskSpaceCheck(str(tmp_path), warn_below=0, fail_below=0)().status == "pass"
    assert DiskSpaceCheck(str(tmp_path), warn_below=1, fail_below=0)().status == "warn"
    result = DiskSpaceCheck(str(tmp_path), warn_below=1, fail_below=1)()
    assert result.status == "fail"
    assert result.observed_unit == "percent"
    with pytest.raises(ValueError, match="fail_below"):
        DiskSpaceCheck(warn_below=0.1, fail_below=0.5)


async def test_event_loop_lag_check_sees_a_blocked_loop() -> None:
    assert (await EventLoopLagCheck()()).status == "pass"
    check = EventLoopLagCheck(warn_above=0.05, fail_above=10)

    async def block() -> None:
        await asyncio.sleep(0.001)
        time.sleep(0.15)  # sync code blocking the loop, as a bad route would

    blocker = asyncio.create_task(block())
    result = await check()
    await blocker
    assert result.status == "warn"
    assert result.observed_unit == "ms"


@dataclass
class FakeLimiterHealth:
    status: str
    state: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "state": self.state, **self.details}


class FakeLimiter:
    """Duck-typed like hardening.ratelimit's limiter: an object with ``health()``."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def health(self) -> Any:
        return self.value


class AsyncLimiter(FakeLimiter):
    async def health(self) -> Any:
        return self.value


async def test_rate_limiter_check_by_duck_typing() -> None:
    passing = await RateLimiterCheck(FakeLimiter(FakeLimiterHealth("pass", "closed")))()
    assert passing.status == "pass"
    degraded = await RateLimiterCheck(FakeLimiter(FakeLimiterHealth("warn", "open", {"last_error": "x"})))()
    assert degraded.status == "warn"
    assert degraded.output == "rate limiter store degraded (breaker open)"
    assert degraded.observed_value == {"state": "open", "last_error": "x"}
    assert (await RateLimiterCheck(AsyncLimiter({"status": "down"}))()).status == "fail"
    assert (await RateLimiterCheck(AsyncLimiter("ok"))()).status == "pass"
    with pytest.raises(TypeError, match="health"):
        RateLimiterCheck(object())  # type: ignore[arg-type]


async def test_check_result_helpers_and_component_fields() -> None:
    registry = HealthRegistry()
    registry.add(
        "postgres:responseTime",
        lambda: CheckResult.passed(3.2, "ms"),
        component_type="datastore",
        component_id="primary",
    )
    app = make(registry, details="always")
    async with client(app) as http:
        item = body_of(await http.get("/health"))["checks"]["postgres:responseTime"][0]
    assert item == {
        "status": "pass",
        "componentId": "primary",
        "componentType": "datastore",
        "observedValue": 3.2,
        "observedUnit": "ms",
        "time": item["time"],
    }
    assert item["time"].endswith("Z")
    await app.runtime.close()


def test_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("sqlalchemy", "sqlalchemy.ext.asyncio", "sqlalchemy.pool"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    check = SQLAlchemyCheck(object())  # type: ignore[arg-type]
    with pytest.raises(MissingDependencyError, match=r"hardening\[sqlalchemy\]"):
        asyncio.run(check())


async def test_postgres_check_masks_a_literal_password_in_driver_errors() -> None:
    from hardening.health import PostgresCheck

    check = PostgresCheck(f"postgresql://app:lit-canary-77@127.0.0.1:{free_port()}/app", connect_timeout=1)
    with pytest.raises(Exception) as info:  # noqa: PT011 - any driver error
        await check()
    assert "lit-canary-77" not in str(info.value)
    assert "lit-canary-77" not in repr(check)
