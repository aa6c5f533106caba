"""Requests no route matched are named "<METHOD> unmatched route" in Sentry and OpenTelemetry.

Never the raw URL (seen: ``https://api.example.com:None/reset/<token>``): a token in a
path would reach Sentry, and every distinct URL would be a transaction of its own.
Matched requests keep their route template.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.extras import import_extra

sentry_sdk = import_extra("sentry_sdk", "hardening[sentry]")
import_extra("opentelemetry.sdk", "opentelemetry-sdk, from the test dependency group")

from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from hardening import HardeningSettings, harden  # noqa: E402
from hardening.monitoring import TracingMiddleware, init_sentry, redacting_hooks  # noqa: E402
from tests.sentry_capture import CaptureTransport, capture  # noqa: E402

pytestmark = pytest.mark.needs_extras

DSN = "https://publickey@o0.ingest.sentry.io/42"
TOKEN = "rst-9f8e7d6c5b4a"


@pytest.fixture
def transport() -> Iterator[CaptureTransport]:
    yield from capture()


async def item(request: Request) -> PlainTextResponse:
    return PlainTextResponse("item")


async def fail(request: Request) -> PlainTextResponse:
    raise RuntimeError("boom")


def app() -> Starlette:
    return Starlette(routes=[Route("/items/{item_id}", item), Route("/fail/{item_id}", fail)])


async def request(asgi: Any, method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=asgi, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example.com") as http:
        return await http.request(method, path)


@pytest.mark.anyio
async def test_sentry_transactions_unmatched_fixed_name_matched_template(transport: CaptureTransport) -> None:
    settings = HardeningSettings(
        environment="production",
        hosts={"allowed_hosts": ["api.example.com"]},
        sentry={"dsn": DSN, "traces_sample_rate": 1.0},
    )
    assert init_sentry(settings, transport=transport)
    hardened = harden(app(), settings)
    assert (await request(hardened, "GET", f"/reset/{TOKEN}")).status_code == 404
    assert (await request(hardened, "POST", f"/reset/{TOKEN}")).status_code == 404
    assert (await request(hardened, "GET", "/items/7")).status_code == 200
    names = sorted(event["transaction"] for event in transport.items("transaction"))
    print(f"\nSentry transaction names: {names}")
    assert names == ["/items/{item_id}", "GET unmatched route", "POST unmatched route"]
    assert TOKEN not in str(names)


def test_sentry_error_events_of_unmatched_requests_are_renamed_too() -> None:
    hooks = redacting_hooks()
    event = {
        "transaction": f"https://api.example.com:None/reset/{TOKEN}",
        "transaction_info": {"source": "url"},
        "request": {"method": "DELETE"},
    }
    for name in ("before_send", "before_send_transaction"):
        renamed = hooks[name](dict(event), {})
        assert renamed["transaction"] == "DELETE unmatched route"
        assert renamed["transaction_info"] == {"source": "custom"}
    matched = {"transaction": "/items/{item_id}", "transaction_info": {"source": "route"}}
    assert hooks["before_send_transaction"](dict(matched), {})["transaction"] == "/items/{item_id}"
    no_method = {"transaction": f"/reset/{TOKEN}", "transaction_info": {"source": "url"}}
    assert hooks["before_send_transaction"](no_method, {})["transaction"] == "HTTP unmatched route"


@pytest.mark.anyio
async def test_otel_spans_unmatched_fixed_name_matched_template() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    traced = TracingMiddleware(app(), tracer_provider=provider)
    await request(traced, "GET", f"/reset/{TOKEN}")
    await request(traced, "GET", "/items/7")
    names = sorted(span.name for span in exporter.get_finished_spans())
    provider.shutdown()
    assert names == ["GET /items/{item_id}", "GET unmatched route"]
