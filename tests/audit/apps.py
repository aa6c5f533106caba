"""Apps audited by the tests: bare Starlette/FastAPI, and the same wrapped by harden()."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hardening import HardeningSettings, harden, install_problem_handlers, parse_body

HOST = "api.example.com"
ORIGIN = "https://app.example.com"


class Item(BaseModel):
    name: str


def production_settings(**overrides: Any) -> HardeningSettings:
    """Production settings a real service would have: hosts, CORS origins, limits."""
    values: dict[str, Any] = {
        "environment": "production",
        "hosts": {"allowed_hosts": [HOST]},
        "cors": {"allow_origins": [ORIGIN], "allow_credentials": True},
        # The per-minute limit is one the audit's burst (at most 200 requests) always reaches,
        # however slow the machine: the burst meets 429 without depending on speed.
        "rate_limit": {"default_limits": "50/second;150/minute"},
        **overrides,
    }
    return HardeningSettings(**values)


class ProductionSettings(HardeningSettings):
    """The same production settings as a class, for ``--settings``."""

    environment: str = "production"  # type: ignore[assignment]


def make_starlette(*, validated: bool = False) -> Starlette:
    """A typical Starlette service; ``validated`` reads bodies with ``parse_body``."""

    async def home(request: Request) -> JSONResponse:
        return JSONResponse({"service": "items"})

    async def create(request: Request) -> JSONResponse:
        if validated:
            item = await parse_body(request, Item)
            return JSONResponse(item.model_dump(), status_code=201)
        data = await request.json()
        return JSONResponse(data, status_code=201)

    return Starlette(routes=[Route("/", home), Route("/items", create, methods=["POST"])])


def make_fastapi() -> FastAPI:
    """A typical FastAPI service."""
    app = FastAPI()

    @app.get("/")
    async def home() -> dict[str, str]:
        return {"service": "items"}

    @app.post("/items", status_code=201)
    async def create(item: Item) -> Item:
        return item

    return app


def hardened_starlette() -> Any:
    app = make_starlette(validated=True)
    install_problem_handlers(app)
    return harden(app, production_settings())


def hardened_fastapi() -> Any:
    app = make_fastapi()
    install_problem_handlers(app)
    return harden(app, production_settings())


bare_starlette = make_starlette()
bare_fastapi = make_fastapi()


def served_hardened() -> Any:
    """The hardened Starlette app as uvicorn serves it on 127.0.0.1 over plain HTTP."""
    app = make_starlette(validated=True)
    install_problem_handlers(app)
    settings = production_settings(hosts={"allowed_hosts": ["127.0.0.1"]}, https_redirect={"enabled": False})
    return harden(app, settings)


def __getattr__(name: str) -> Any:
    """Build ``hardened_app`` on first use (``hardening audit tests.audit.apps:hardened_app``)."""
    if name == "hardened_app":
        return hardened_starlette()
    raise AttributeError(name)


def create_hardened() -> Any:
    """An app factory (``hardening audit tests.audit.apps:create_hardened``, like uvicorn's ``--factory``)."""
    return hardened_starlette()


def create_nothing() -> Any:
    """A factory that returns something that is not an ASGI app."""
    return 42
