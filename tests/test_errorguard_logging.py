"""The error guard's log line through configure_logging(): one JSON line, redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.extras import import_extra

structlog = import_extra("structlog", "hardening[logging]")

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from hardening import HardeningSettings, harden, install_problem_handlers  # noqa: E402
from hardening.errorguard import ERROR_LOGGER_NAME  # noqa: E402
from hardening.logs import configure_logging  # noqa: E402
from hardening.redaction import register_secret  # noqa: E402

pytestmark = pytest.mark.needs_extras

CANARY = "canary-guard-log-5e81"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()


async def _crash(request: Request) -> Response:
    raise RuntimeError(f"cannot reach postgresql://app:{CANARY}@db/prod")


@pytest.mark.anyio
@pytest.mark.parametrize("handlers", [False, True])
async def test_one_redacted_json_line_with_traceback_and_request_id(handlers: bool) -> None:
    """Through harden(): exactly one error line, with traceback and request ID, no secret."""
    register_secret(CANARY)
    settings = HardeningSettings(environment="production")
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    app = Starlette(routes=[Route("/crash", _crash)])
    if handlers:
        install_problem_handlers(app)
    service = harden(app, settings.model_copy(update={"environment": "test"}))

    transport = httpx.ASGITransport(app=service)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/crash")

    assert response.status_code == 500
    assert CANARY not in response.text
    lines: list[dict[str, Any]] = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    errors = [line for line in lines if line.get("logger") == ERROR_LOGGER_NAME]
    assert len(errors) == 1, lines
    assert errors[0]["level"] == "error"
    assert errors[0]["request_id"] == response.json()["request_id"]
    rendered = json.dumps(errors[0])
    assert "RuntimeError" in rendered
    assert "Traceback" in rendered or "frames" in rendered
    assert CANARY not in stream.getvalue()
