"""The canary suite of issue 22: every credential shape through every output.

Each shape of ``tests/redaction_shapes.py`` goes through one request to a stack of the
request-ID layer, the access log, the error guard (development: the problem's ``detail``
shows the redacted message), the tracing layer (an in-memory span exporter) and Sentry (a
fake transport), with ``configure_logging()`` writing JSON lines. The app logs the text
and raises it as an exception; query shapes arrive as the request's query string. No
output may hold the shape's secret: the JSON log lines (app line, error line, access
line), the Sentry event, the span's attributes and events, the problem details. The
settings report is checked for a secret-named ``str`` field.
"""

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
from tests.redaction_shapes import SHAPES, Shape

sentry_sdk = import_extra("sentry_sdk", "hardening[sentry]")
structlog = import_extra("structlog", "hardening[logging]")
import_extra("opentelemetry.sdk", "opentelemetry-sdk, from the test dependency group")

from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from hardening import HardeningSettings, LayerContext  # noqa: E402
from hardening.errorguard import ErrorGuardMiddleware  # noqa: E402
from hardening.logs import AccessLogMiddleware, LoggingConfig, RequestIdMiddleware, configure_logging  # noqa: E402
from hardening.monitoring import SentryConfig, TracingConfig, TracingMiddleware, init_sentry  # noqa: E402
from hardening.redaction import register_secret  # noqa: E402
from tests.sentry_capture import CaptureTransport  # noqa: E402

pytestmark = pytest.mark.needs_extras

DSN = "https://publickey@o0.ingest.sentry.io/42"


def _strings(value: Any) -> Iterator[str]:
    """Every string in a decoded JSON value (keys too), so escaping cannot hide a leak."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _raising_app(text: str) -> Any:
    """A bare ASGI app (no framework 500 in between) that logs ``text`` and raises it."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        logging.getLogger("app").warning("calling upstream: %s", text, extra={"detail": text})
        raise RuntimeError(text)

    return app


def _outputs(shape: Shape) -> dict[str, str]:
    """Send ``shape`` through the stack; return what each output showed, decoded."""
    import anyio

    if shape.registered is not None:
        register_secret(shape.registered)
    stream = io.StringIO()
    settings = HardeningSettings(environment="development", logging=LoggingConfig(format="json"))
    configure_logging(settings, stream=stream)
    transport = CaptureTransport()
    init_sentry(HardeningSettings(environment="staging", sentry=SentryConfig(dsn=DSN)), transport=transport)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = _raising_app("no credential here" if shape.kind == "query" else shape.text)
    context = LayerContext(environment="development")
    stack = RequestIdMiddleware(
        AccessLogMiddleware(
            ErrorGuardMiddleware(TracingMiddleware(app, TracingConfig(), tracer_provider=provider), context=context),
            context=context,
        )
    )
    target = f"/call?{shape.text}" if shape.kind == "query" else "/call"

    async def call() -> httpx.Response:
        client_transport = httpx.ASGITransport(app=stack, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=client_transport, base_url="http://testserver") as http:
            return await http.get(target)

    try:
        response = anyio.run(call)
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()
        provider.shutdown()
        structlog.reset_defaults()
    assert response.status_code == 500
    spans = [
        {"attributes": dict(s.attributes or {}), "events": [dict(e.attributes or {}) for e in s.events]}
        for s in exporter.get_finished_spans()
    ]
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    assert any(line.get("logger") == "hardening.access" for line in lines)
    events = transport.events()
    assert events
    assert spans
    return {
        "log lines": "\n".join(_strings(lines)),
        "access line": "\n".join(_strings([line for line in lines if line.get("logger") == "hardening.access"])),
        "Sentry event": "\n".join(_strings(events)),
        "span": "\n".join(_strings(spans)),
        "problem details": "\n".join(_strings(response.json())),
    }


def leaks(shape: Shape) -> list[str]:
    """The outputs that showed the shape's secret."""
    return [name for name, shown in _outputs(shape).items() if shape.secret in shown]


@pytest.mark.parametrize("shape", SHAPES, ids=[shape.name for shape in SHAPES])
def test_no_output_shows_the_credential(shape: Shape) -> None:
    assert leaks(shape) == []


WEBHOOK_TOKEN = "canary-webhook-token-e3d2c1"


def test_a_str_field_named_like_a_secret_is_masked_in_every_settings_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``webhook_token: str`` is classed sensitive as ``redact()`` classes the key: masked in
    ``explain()``, ``env explain``, ``env check``, ``env example`` and, once loaded, everywhere."""
    from hardening import AppSettings
    from hardening.cli import main
    from hardening.redaction import redact, redact_text
    from hardening.settings.loader import env_example, explain

    class Service(AppSettings):
        """A service with a plain ``str`` token."""

        webhook_token: str = ""
        """The token the webhook sender signs with."""

        port: int = 8000
        """The port."""

    environ = {"WEBHOOK_TOKEN": WEBHOOK_TOKEN, "HARDENING_ENVIRONMENT": "development"}
    explained = explain(Service, environ=environ)
    assert WEBHOOK_TOKEN not in explained.text()
    assert WEBHOOK_TOKEN not in repr(explained)
    assert WEBHOOK_TOKEN not in env_example(Service)
    assert redact({"webhook_token": WEBHOOK_TOKEN}) == {"webhook_token": "[REDACTED]"}
    module = type(sys)("canary_settings")
    module.Service = Service  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "canary_settings", module)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    for command in (["env", "explain", "canary_settings:Service"], ["env", "check", "canary_settings:Service"]):
        main(command)
        assert WEBHOOK_TOKEN not in capsys.readouterr().out
    Service()  # loading it registers the value, as for a SecretStr
    assert WEBHOOK_TOKEN not in redact_text(f"sending with {WEBHOOK_TOKEN}")
