"""The app a real uvicorn serves in tests/e2e/test_uvicorn_logging.py."""

from __future__ import annotations

import logging
import os

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hardening import HardeningSettings, harden
from hardening.logs import configure_logging, get_request_id
from hardening.redaction import register_secret

settings = HardeningSettings(environment="production", hosts={"allowed_hosts": ["127.0.0.1", "x"]})
configure_logging(settings)  # at import time: after uvicorn's own dictConfig, before its start-up lines
register_secret(os.environ["E2E_CANARY"])  # what the settings loader does for every SecretStr

log = structlog.get_logger("app")


async def hello(request: Request) -> JSONResponse:
    await request.body()
    log.info("hello from the app", seen_request_id=get_request_id())
    logging.getLogger("app.stdlib").info("stdlib line with %s", os.environ["E2E_CANARY"])
    structlog.contextvars.bind_contextvars(user="leaky")  # must not leak into the next request
    return JSONResponse({"request_id": get_request_id(), "user": structlog.contextvars.get_contextvars().get("user")})


async def check(request: Request) -> JSONResponse:
    return JSONResponse({"request_id": get_request_id(), "user": structlog.contextvars.get_contextvars().get("user")})


async def boom(request: Request) -> JSONResponse:
    raise RuntimeError(f"cannot reach postgresql://app:{os.environ['E2E_CANARY']}@db/app")


app = harden(
    Starlette(routes=[Route("/hello", hello, methods=["GET", "POST"]), Route("/check", check), Route("/boom", boom)]),
    settings,
)
