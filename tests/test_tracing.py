"""Tracing and request metrics on the OpenTelemetry API; the SDK only as the test's exporter."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.extras import import_extra

import_extra("opentelemetry.trace", "hardening[otel]")
import_extra("opentelemetry.sdk", "opentelemetry-sdk, from the test dependency group")

from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from hardening import HardeningSettings, LayerContext, MissingDependencyError, build_layer  # noqa: E402
from hardening.logs import AccessLogMiddleware, RequestIdMiddleware, get_trace_ids  # noqa: E402
from hardening.monitoring import TracingConfig, TracingMiddleware  # noqa: E402
from hardening.redaction import register_secret  # noqa: E402

pytestmark = pytest.mark.needs_extras

CANARY = "canary-span-4e5f6a"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def item(request: Request) -> PlainTextResponse:
    ids = get_trace_ids()
    return PlainTextResponse(ids[0] if ids else "")


async def fail(request: Request) -> PlainTextResponse:
    raise RuntimeError(f"db error postgresql://u:{CANARY}@db/x")


APP = Starlette(routes=[Route("/items/{item_id}", item), Route("/fail", fail), Route("/healthz", item)])


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def providers(exporter: InMemorySpanExporter) -> Iterator[tuple[TracerProvider, MeterProvider, InMemoryMetricReader]]:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield tracer_provider, meter_provider, reader
    tracer_provider.shutdown()
    meter_provider.shutdown()


def build(providers: tuple[TracerProvider, MeterProvider, InMemoryMetricReader], **config: Any) -> Any:
    tracer_provider, meter_provider, _ = providers
    return RequestIdMiddleware(
        TracingMiddleware(APP, TracingConfig(**config), tracer_provider=tracer_provider, meter_provider=meter_provider)
    )


async def get(app: Any, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await http.get(path, **kwargs)


@pytest.mark.anyio
async def test_server_span_named_by_route_with_redacted_attributes(
    providers: Any, exporter: InMemorySpanExporter
) -> None:
    register_secret(CANARY)
    response = await get(
        build(providers),
        f"/items/7?token=abc&q={CANARY}&page=1",
        headers={"traceparent": TRACEPARENT, "user-agent": f"ua {CANARY}", "x-api-key": CANARY},
    )
    [span] = exporter.get_finished_spans()
    assert span.name == "GET /items/{item_id}"
    assert span.kind == trace.SpanKind.SERVER
    assert format(span.context.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == "00f067aa0ba902b7"
    attributes = dict(span.attributes or {})
    assert attributes["http.route"] == "/items/{item_id}"
    assert attributes["url.path"] == "/items/7"
    assert attributes["url.query"] == "token=[REDACTED]&q=[REDACTED]&page=1"
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.response.status_code"] == 200
    assert attributes["server.address"] == "testserver"
    assert attributes["request_id"] == response.headers["x-request-id"]
    assert CANARY not in repr(attributes)
    assert response.text == "4bf92f3577b34da6a3ce929d0e0e4736"  # the trace ID is available inside


@pytest.mark.anyio
async def test_exception_recorded_redacted(providers: Any, exporter: InMemorySpanExporter) -> None:
    register_secret(CANARY)
    response = await get(build(providers), "/fail")
    assert response.status_code == 500
    [span] = exporter.get_finished_spans()
    assert span.status.status_code == trace.StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "RuntimeError"
    assert span.attributes["http.response.status_code"] == 500
    [event] = span.events
    assert event.name == "exception"
    assert CANARY not in json.dumps(dict(event.attributes or {}))
    assert "postgresql://[REDACTED]@db/x" in str((event.attributes or {})["exception.message"])


@pytest.mark.anyio
async def test_leaked_span_never_becomes_the_parent(providers: Any, exporter: InMemorySpanExporter) -> None:
    tracer = providers[0].get_tracer("test")
    with tracer.start_as_current_span("leaked"):
        await get(build(providers), "/items/1")
    request_span = next(s for s in exporter.get_finished_spans() if s.name != "leaked")
    assert request_span.parent is None
    assert request_span.kind == trace.SpanKind.SERVER


@pytest.mark.anyio
async def test_metrics(providers: Any) -> None:
    app = build(providers)
    await get(app, "/items/1")
    await get(app, "/fail")
    data = providers[2].get_metrics_data()
    metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    duration = metrics["http.server.request.duration"]
    points = {
        (p.attributes["http.route"], p.attributes["http.response.status_code"]): p for p in duration.data.data_points
    }
    assert points[("/items/{item_id}", 200)].count == 1
    assert points[("/fail", 500)].attributes["error.type"] == "RuntimeError"
    active = metrics["http.server.active_requests"]
    assert sum(p.value for p in active.data.data_points) == 0


@pytest.mark.anyio
async def test_health_probes_excluded(providers: Any, exporter: InMemorySpanExporter) -> None:
    await get(build(providers), "/healthz")
    assert exporter.get_finished_spans() == ()


@pytest.mark.anyio
async def test_api_only_no_sdk_keeps_upstream_trace_id_for_logs_and_access_line() -> None:
    """No SDK: spans do not record, but logs and the access line carry the upstream trace ID."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    access = logging.getLogger("hardening.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        app = RequestIdMiddleware(
            AccessLogMiddleware(TracingMiddleware(APP, tracer_provider=trace.NoOpTracerProvider()))
        )
        with_parent = await get(app, "/items/1", headers={"traceparent": TRACEPARENT})
        without = await get(app, "/items/1")
    finally:
        access.removeHandler(handler)
        access.setLevel(logging.NOTSET)
    assert with_parent.text == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert without.text == ""  # no bogus all-zero trace ID
    assert records[0].trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"  # type: ignore[attr-defined]
    assert records[1].trace_id is None  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_log_lines_carry_span_ids(providers: Any, exporter: InMemorySpanExporter) -> None:
    structlog = import_extra("structlog", "hardening[logging]")
    from hardening.logs import configure_logging

    stream = io.StringIO()
    configure_logging(HardeningSettings(), stream=stream)
    try:

        async def logged(request: Request) -> PlainTextResponse:
            structlog.get_logger("app").info("inside")
            return PlainTextResponse("ok")

        tracer_provider, meter_provider, _ = providers
        app = TracingMiddleware(
            Starlette(routes=[Route("/", logged)]), tracer_provider=tracer_provider, meter_provider=meter_provider
        )
        await get(app, "/", headers={"traceparent": TRACEPARENT})
    finally:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "_hardening_handler", False)]:
            root.removeHandler(handler)
        structlog.reset_defaults()
    [span] = exporter.get_finished_spans()
    line = json.loads(stream.getvalue().splitlines()[0])
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["span_id"] == format(span.context.span_id, "016x")


def test_build_without_opentelemetry(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import importlib.util

    import hardening._compose as compose_module

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name.startswith("opentelemetry") else real(name, *a)
    )
    monkeypatch.setattr(compose_module, "_skipped", set())
    for name in [m for m in sys.modules if m.startswith("opentelemetry")]:
        monkeypatch.setitem(sys.modules, name, None)
    with caplog.at_level(logging.INFO, "hardening.tracing"):
        assert build_layer(APP, TracingConfig()) is APP  # implicit default: skipped, logged once
        assert build_layer(APP, TracingConfig()) is APP
    assert len(caplog.records) == 1
    with pytest.raises(MissingDependencyError, match=r"hardening\[otel\]"):
        build_layer(APP, TracingConfig(enabled=True))  # explicitly asked for


def test_build() -> None:
    assert build_layer(APP, TracingConfig(enabled=False)) is APP
    assert isinstance(build_layer(APP, TracingConfig(), LayerContext.of(HardeningSettings())), TracingMiddleware)


@pytest.mark.anyio
async def test_non_http_passes_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await TracingMiddleware(app)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


@pytest.mark.anyio
async def test_without_sdk_the_upstream_context_and_baggage_still_reach_the_app() -> None:
    """The global (placeholder) providers: nothing records, the upstream context is carried."""
    from opentelemetry import baggage

    seen: list[tuple[Any, ...]] = []

    async def endpoint(request: Request) -> PlainTextResponse:
        span = trace.get_current_span()
        seen.append((get_trace_ids(), span.get_span_context().is_valid, baggage.get_baggage("tenant")))
        return PlainTextResponse("ok")

    app = TracingMiddleware(Starlette(routes=[Route("/", endpoint)]))
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)  # no SDK set in the tests
    leaked = TracerProvider().get_tracer("test")
    with leaked.start_as_current_span("leaked"):
        await get(app, "/", headers={"traceparent": TRACEPARENT})
        await get(app, "/", headers={"baggage": "tenant=acme"})
        await get(app, "/")
    assert seen == [
        (("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"), True, None),
        (None, False, "acme"),
        (None, False, None),  # the leaked span is not this request's
    ]
    assert get_trace_ids() is None


@pytest.mark.anyio
async def test_a_custom_propagator_is_always_asked() -> None:
    """Only the W3C propagators are known to read nothing but their own headers."""
    from opentelemetry import propagate
    from opentelemetry.propagators.textmap import TextMapPropagator

    class Custom(TextMapPropagator):
        def extract(self, carrier: Any, context: Any = None, getter: Any = None) -> Any:
            value = getter.get(carrier, "x-upstream-trace")
            if not value:
                return context
            span_context = trace.SpanContext(int(value[0], 16), 0x00F067AA0BA902B7, is_remote=True)
            return trace.set_span_in_context(trace.NonRecordingSpan(span_context), context)

        def inject(self, carrier: Any, context: Any = None, setter: Any = None) -> None:
            raise NotImplementedError

        @property
        def fields(self) -> set[str]:
            return set()

    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(Custom())
    try:
        response = await get(TracingMiddleware(APP), "/items/1", headers={"x-upstream-trace": "ab" * 16})
    finally:
        propagate.set_global_textmap(previous)
    assert response.text == "ab" * 16


@pytest.mark.anyio
async def test_metrics_start_once_an_sdk_meter_provider_is_set() -> None:
    """Through the API's placeholder provider: nothing recorded before an SDK is set, all after."""
    from opentelemetry.metrics._internal import _ProxyMeterProvider

    placeholder = _ProxyMeterProvider()
    app = TracingMiddleware(APP, meter_provider=placeholder)
    await get(app, "/items/1")
    reader = InMemoryMetricReader()
    sdk = MeterProvider(metric_readers=[reader])
    try:
        placeholder.on_set_meter_provider(sdk)
        await get(app, "/items/2")
        data = reader.get_metrics_data()
    finally:
        sdk.shutdown()
    assert data is not None
    metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    [point] = metrics["http.server.request.duration"].data.data_points
    assert isinstance(point, HistogramDataPoint)
    assert point.count == 1
    assert point.attributes is not None
    assert point.attributes["http.route"] == "/items/{item_id}"
