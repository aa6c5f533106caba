"""A minimal Starlette app hardened in a few lines.

Run it: ``uvicorn examples.minimal_starlette:app --no-server-header``
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hardening import HardeningSettings, harden, install_problem_handlers


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"message": "hello, hardened world"})


starlette_app = Starlette(routes=[Route("/", hello)])
install_problem_handlers(starlette_app)  # 404 and 405 as problem+json too
app = harden(starlette_app, HardeningSettings(environment="development"))
