"""A Litestar app wrapped with ``harden()``: headers, CORS, rate limits, health, trusted hosts.

Run it: ``uvicorn examples.litestar_app:app --no-server-header --no-access-log``
(needs ``pip install litestar uvicorn 'hardening[all]'``). ``hardening``'s problem handlers
are for Starlette and FastAPI; Litestar's own errors (404, 405, validation) become
``application/problem+json`` through Litestar's ``ProblemDetailsPlugin``, and everything
the hardening layers answer themselves (400, 403, 413, 429, 500, 503) is problem+json anyway.
Litestar serves its OpenAPI document and docs under ``/schema``.
"""

from __future__ import annotations

from typing import Any, cast

from litestar import Litestar, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsPlugin
from pydantic import BaseModel, Field
from starlette.types import ASGIApp

from hardening import HardeningSettings, harden

__all__ = ["Item", "app", "build"]

ITEMS = {1: {"name": "bolt", "quantity": 3}}


class Item(BaseModel):
    """An inventory item."""

    name: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=1, le=1000)


@get("/items/{item_id:int}")
async def get_item(item_id: FromPath[int]) -> Item:
    """One item."""
    if item_id not in ITEMS:
        raise NotFoundException(detail=f"Item {item_id} does not exist.")
    return Item.model_validate(ITEMS[item_id])


@post("/items")
async def create_item(data: JSONBody[Item]) -> Item:
    """Create an item (validated; a bad body is a 400 problem)."""
    return data


@get("/reports/expensive")
async def expensive_report() -> dict[str, str]:
    """Rate limited much more strictly than the rest (``HARDENING_RATE_LIMIT__RULES``)."""
    return {"report": "ready"}


def build(settings: HardeningSettings) -> ASGIApp:
    """The hardened Litestar app for ``settings``."""
    problems = ProblemDetailsPlugin(ProblemDetailsConfig(enable_for_all_http_exceptions=True))
    api = Litestar(route_handlers=[get_item, create_item, expensive_report], plugins=[problems])
    # Litestar types its __call__ with its own TypedDict events; to harden() it is any ASGI app.
    return harden(cast("ASGIApp", api), settings)


def _settings() -> HardeningSettings:
    rules: list[dict[str, Any]] = [{"path": "/reports/expensive", "limits": "2/minute", "name": "expensive"}]
    return HardeningSettings(environment="development", rate_limit={"rules": rules})


app = build(_settings())
