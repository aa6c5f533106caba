"""The app a real uvicorn serves in tests/e2e/test_body_deadlines.py (limits from HARDENING_*)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from hardening import HardeningSettings, harden


async def upload(request: Request) -> PlainTextResponse:
    body = await request.body()
    return PlainTextResponse(f"{len(body)} bytes")


routes = [Route("/upload", upload, methods=["POST"]), Route("/held", upload, methods=["POST"])]
app = harden(Starlette(routes=routes), HardeningSettings())
