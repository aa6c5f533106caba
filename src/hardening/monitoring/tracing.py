"""OpenTelemetry tracing and request metrics, on ``opentelemetry-api`` alone.

:class:`TracingMiddleware` extracts the incoming trace context (``traceparent``, or
whatever propagators the process configured), starts a SERVER span named by the route
template (``GET unmatched route`` when no route matched: never the raw URL), sets the
semantic-convention attributes (query redacted) and records exceptions and the status;
a client that went away is no error (counted with the status sent, or 499). It records
``http.server.request.duration`` and ``http.server.active_requests`` through the metrics API, so any SDK or Prometheus
exporter installed by the team picks them up. Without an SDK, spans are non-recording
and cost little, yet log lines still carry the upstream ``trace_id``.
"""

from __future__ import annotations

import time
import traceback
from typing import TYPE_CHECKING, Any, Final

from hardening._asgi import REQUEST_ID_STATE_KEY, get_header, scope_state
from hardening._config import LayerConfig
from hardening._context import LayerContext
from hardening._disconnect import CLIENT_CLOSED_REQUEST, is_client_gone
from hardening._imports import require
from hardening._paths import QUIET_PROBE_PATHS
from hardening._version import __version__
from hardening.logs._context import SPAN_ID_STATE_KEY, TRACE_ID_STATE_KEY, TRACE_IDS
from hardening.monitoring._names import UNMATCHED_ROUTE
from hardening.redaction import redact_text, redact_url

if TYPE_CHECKING:
    from collections.abc import Iterable

    from starlette.types import ASGIApp, Message, Receive, Scope, Send


__all__ = ("DURATION_BUCKETS", "TracingConfig", "TracingMiddleware")

DURATION_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
"""Histogram bucket boundaries (seconds) advised for request durations (semantic conventions)."""

_HOST: Final = b"host"
_USER_AGENT: Final = b"user-agent"
_SERVER_ERROR: Final = 500


class TracingConfig(LayerConfig):
    """OpenTelemetry server spans and request metrics (the ``otel`` extra).

    On by default when ``opentelemetry-api`` is installed; without it the layer is left
    out with one INFO log line. Setting ``enabled`` explicitly (for example
    ``HARDENING_TRACING__ENABLED=true``) makes a missing package an error instead.
    """

    enabled: bool = True
    """Whether this layer is part of the stack (when OpenTelemetry is installed)."""

    metrics: bool = True
    """Record ``http.server.request.duration`` and ``http.server.active_requests``."""

    exclude_paths: tuple[str, ...] = QUIET_PROBE_PATHS
    """Exact paths that get no span and no metrics (health probes)."""

    request_id_attribute: bool = True
    """Set the ``request_id`` span attribute from the request-ID layer."""


class _HeaderGetter:
    """OpenTelemetry ``Getter`` over raw ASGI headers."""

    def get(self, carrier: Iterable[tuple[bytes, bytes]], key: str) -> list[str] | None:
        name = _HEADER_NAMES.get(key)
        if name is None:
            name = key.lower().encode("latin-1")
            if len(_HEADER_NAMES) < _MAX_HEADER_NAMES:
                _HEADER_NAMES[key] = name
        values = [value.decode("latin-1") for item, value in carrier if item == name]
        return values or None

    def keys(self, carrier: Iterable[tuple[bytes, bytes]]) -> list[str]:
        return [item.decode("latin-1") for item, _ in carrier]


_GETTER: Final = _HeaderGetter()
_HEADER_NAMES: dict[str, bytes] = {}
_MAX_HEADER_NAMES: Final = 256


def _headers_read_by(textmap: Any) -> frozenset[bytes] | None:
    """The headers ``textmap.extract`` reads, when it is made of the W3C propagators only.

    Those read nothing but their ``fields`` (``traceparent``, ``tracestate``, ``baggage``)
    and return the context unchanged when none is present, so a request without any of
    them needs no extraction. ``None`` for any other propagator: always extract.
    """
    composite = require("opentelemetry.propagators.composite", extra="otel", feature="tracing")
    tracecontext = require("opentelemetry.trace.propagation.tracecontext", extra="otel", feature="tracing")
    baggage = require("opentelemetry.baggage.propagation", extra="otel", feature="tracing")
    known = (tracecontext.TraceContextTextMapPropagator, baggage.W3CBaggagePropagator)
    parts = getattr(textmap, "_propagators", None) if type(textmap) is composite.CompositePropagator else (textmap,)
    if parts is None or not all(type(part) in known for part in parts):
        return None
    return frozenset(field.lower().encode("latin-1") for field in textmap.fields)


class TracingMiddleware:
    """Pure ASGI middleware: one OpenTelemetry SERVER span and metrics per HTTP request.

    Args:
        app: The ASGI app to wrap.
        config: The settings of this layer; defaults apply when ``None``.
        context: The stack's shared context: its client resolver gives ``client.address``
            and ``url.scheme``.
        tracer_provider: Use this provider instead of the global one (tests, or several
            providers in one process).
        meter_provider: Use this provider instead of the global one.

    Raises:
        MissingDependencyError: ``opentelemetry-api`` is not installed.
    """

    def __init__(
        self,
        app: ASGIApp,
        config: TracingConfig | None = None,
        *,
        context: LayerContext | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ):
        self.app = app
        self.config = config = config or TracingConfig()
        feature = "tracing"
        self._trace = require("opentelemetry.trace", extra="otel", feature=feature, package="opentelemetry-api")
        self._propagate = require("opentelemetry.propagate", extra="otel", feature=feature)
        self._context = require("opentelemetry.context", extra="otel", feature=feature)
        self._tracer = self._trace.get_tracer("hardening", __version__, tracer_provider=tracer_provider)
        self._server_kind = self._trace.SpanKind.SERVER
        # Without an SDK (no provider set, or a no-op one) spans never record: the layer
        # then only carries the upstream context, as the API's no-op tracer would.
        self._noop_tracer = self._trace.NoOpTracer()
        self._tracer_follows_global = isinstance(self._tracer, self._trace.ProxyTracer)
        self._idle_context = self._trace.set_span_in_context(self._trace.INVALID_SPAN, self._context.Context())
        self._textmap: Any = None
        self._textmap_headers: frozenset[bytes] | None = None
        self._resolver = (context or LayerContext()).resolver
        self._excluded = frozenset(config.exclude_paths)
        self._duration: Any = None
        self._active: Any = None
        if config.metrics:
            metrics = require("opentelemetry.metrics", extra="otel", feature="request metrics")
            meter = metrics.get_meter("hardening", __version__, meter_provider=meter_provider)
            self._duration = meter.create_histogram(
                "http.server.request.duration",
                unit="s",
                description="Duration of HTTP server requests.",
                explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
            )
            self._active = meter.create_up_down_counter(
                "http.server.active_requests",
                unit="{request}",
                description="Number of active HTTP server requests.",
            )

    def _attributes(self, scope: Scope, headers: Iterable[tuple[bytes, bytes]]) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "http.request.method": scope.get("method", "_OTHER"),
            "url.scheme": self._resolver.scheme(scope),
            "url.path": redact_text(scope.get("path", "")),
        }
        query = scope.get("query_string", b"")
        if query:
            attributes["url.query"] = redact_text(redact_url("?" + query.decode("latin-1"))[1:])
        host = get_header(headers, _HOST)
        if host:
            text = host.decode("latin-1")
            name, separator, port = text.rpartition(":")
            if separator and port.isdigit():
                attributes["server.address"], attributes["server.port"] = name, int(port)
            else:
                attributes["server.address"] = text
        client = self._resolver.client_ip(scope)
        if client is not None:
            attributes["client.address"] = client
        version = scope.get("http_version")
        if version:
            attributes["network.protocol.version"] = version
        agent = get_header(headers, _USER_AGENT)
        if agent:
            attributes["user_agent.original"] = redact_text(agent.decode("latin-1")[:512])
        request_id = (scope.get("state") or {}).get(REQUEST_ID_STATE_KEY)
        if request_id is not None and self.config.request_id_attribute:
            attributes["request_id"] = request_id
        return attributes

    def _extract(self, headers: Iterable[tuple[bytes, bytes]]) -> Any:
        """Return the context the request's propagation headers give, or ``None`` if none do."""
        textmap = self._propagate.get_global_textmap()
        if textmap is not self._textmap:
            self._textmap_headers = _headers_read_by(textmap)
            self._textmap = textmap
        names = self._textmap_headers
        if names is not None:
            for name, _ in headers:
                if name in names:
                    break
            else:
                return None
        # A fresh base context: a span leaked by a previous request on this connection
        # can never become this request's parent.
        return textmap.extract(headers, context=self._context.Context(), getter=_GETTER)

    def _spans_are_noop(self) -> bool:
        """Whether ``start_span`` would return the API's non-recording span (no SDK)."""
        tracer = self._tracer
        if self._tracer_follows_global:  # a ProxyTracer delegates to the global provider's tracer, once set
            tracer = getattr(tracer, "_tracer", tracer)
        return isinstance(tracer, self._trace.NoOpTracer)

    def _metrics_are_noop(self) -> bool:
        """Whether recording would do nothing: metrics off, or instruments without an SDK behind them."""
        if self._active is None:
            return True
        # The API's placeholder instruments forward to ``_real_instrument`` once an SDK's
        # meter provider is set; other instruments have no such attribute and are recorded.
        return (
            getattr(self._active, "_real_instrument", self) is None
            and getattr(self._duration, "_real_instrument", self) is None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection (other scope types pass through)."""
        if scope["type"] != "http" or scope.get("path") in self._excluded:
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or ()
        parent = self._extract(headers)
        if self._spans_are_noop() and self._metrics_are_noop():
            # Nothing records: carry the upstream context (if any) and nothing else.
            if parent is None:
                context, ids = self._idle_context, None
            else:
                span = self._noop_tracer.start_span(scope.get("method", "HTTP"), context=parent, kind=self._server_kind)
                context, ids = self._trace.set_span_in_context(span, parent), self._span_ids(span, scope)
            token = self._context.attach(context)
            ids_token = TRACE_IDS.set(ids)
            try:
                await self.app(scope, receive, send)
            finally:
                TRACE_IDS.reset(ids_token)
                self._context.detach(token)
            return
        await self._traced(scope, receive, send, headers, self._context.Context() if parent is None else parent)

    def _span_ids(self, span: Any, scope: Scope) -> tuple[str, str] | None:
        """Return the span's ``(trace_id, span_id)`` and store them in the scope state, if valid."""
        span_context = span.get_span_context()
        if not span_context.is_valid:
            return None
        trace_api = self._trace
        ids = (trace_api.format_trace_id(span_context.trace_id), trace_api.format_span_id(span_context.span_id))
        state = scope_state(scope)
        state[TRACE_ID_STATE_KEY], state[SPAN_ID_STATE_KEY] = ids
        return ids

    async def _traced(
        self, scope: Scope, receive: Receive, send: Send, headers: Iterable[tuple[bytes, bytes]], parent: Any
    ) -> None:
        trace_api = self._trace
        method = scope.get("method", "HTTP")
        span = self._tracer.start_span(method, context=parent, kind=self._server_kind)
        recording = span.is_recording()
        if recording:
            span.set_attributes(self._attributes(scope, headers))
        token = self._context.attach(trace_api.set_span_in_context(span, parent))
        ids = self._span_ids(span, scope)
        ids_token = TRACE_IDS.set(ids)
        scheme = self._resolver.scheme(scope) if self._active is not None else ""
        if self._active is not None:
            self._active.add(1, {"http.request.method": method, "url.scheme": scheme})
        start = time.perf_counter()
        status: int | None = None
        error_type: str | None = None
        gone = False  # the client went away: counted with the status sent, or 499

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        async def watch_receive() -> Message:
            nonlocal gone
            message = await receive()
            if message["type"] == "http.disconnect" and status is None:
                gone = True
            return message

        try:
            await self.app(scope, watch_receive, send_status)
        except BaseException as exc:
            if is_client_gone(exc):
                gone = True
                raise
            error_type = type(exc).__qualname__
            if recording:
                span.add_event(
                    "exception",
                    {
                        "exception.type": f"{type(exc).__module__}.{type(exc).__qualname__}",
                        "exception.message": redact_text(str(exc)),
                        "exception.stacktrace": redact_text("".join(traceback.format_exception(exc))),
                    },
                )
            raise
        finally:
            duration = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", None)
            if gone:
                # Not an error: counted apart from 5xx, with the status sent or 499.
                status = CLIENT_CLOSED_REQUEST if status is None else status
            elif status is None and error_type is not None:
                status = _SERVER_ERROR
            if error_type is None and not gone and status is not None and status >= _SERVER_ERROR:
                error_type = str(status)
            if recording:
                if isinstance(route, str):
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                else:  # a fixed name: never the raw URL (tokens in paths, unbounded cardinality)
                    span.update_name(f"{method} {UNMATCHED_ROUTE}")
                if status is not None:
                    span.set_attribute("http.response.status_code", status)
                if error_type is not None:
                    span.set_attribute("error.type", error_type)
                    span.set_status(trace_api.Status(trace_api.StatusCode.ERROR))
            span.end()
            TRACE_IDS.reset(ids_token)
            self._context.detach(token)
            if self._active is not None:
                self._active.add(-1, {"http.request.method": method, "url.scheme": scheme})
                attributes: dict[str, Any] = {"http.request.method": method, "url.scheme": scheme}
                if isinstance(route, str):
                    attributes["http.route"] = route
                if status is not None:
                    attributes["http.response.status_code"] = status
                if error_type is not None:
                    attributes["error.type"] = error_type
                self._duration.record(duration, attributes)
