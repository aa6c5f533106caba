"""A minimal Starlette app hardened in a few lines.

Run it: ``uvicorn examples.minimal_starlette:app --no-server-header``
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hardening import HardeningSettings, harden


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"message": "hello, hardened world"})


app = harden(
    Starlette(routes=[Route("/", hello)]),
    HardeningSettings(environment="development"),
)
