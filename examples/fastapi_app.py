"""A FastAPI app hardened in a few lines: problem+json errors, a strict endpoint limit, honest docs.

Run it: ``uvicorn examples.fastapi_app:app --no-server-header --no-access-log``
(needs ``pip install fastapi uvicorn 'hardening[all]'``). ``/openapi.json`` lists every
problem+json answer of every operation; Swagger UI at ``/docs`` is served by the app
itself under a strict CSP (nonce scripts, no CDN).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from pydantic import BaseModel, Field

from hardening import HardeningSettings, harden, install_problem_handlers
from hardening.openapi import JSON_INTEGER, document_problems, serve_swagger_ui
from hardening.ratelimit import RateLimitDependency


class Item(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    quantity: Annotated[int, Field(ge=1, le=1000), JSON_INTEGER]  # 3 or 3.0 as the schema says; never true


api = FastAPI(title="Inventory", docs_url=None, redoc_url=None)
install_problem_handlers(api)  # 422s point at fields and never echo the submitted values
document_problems(api)  # /openapi.json lists those problem+json answers on every operation
serve_swagger_ui(api)  # /docs from local files, its scripts carrying the request's CSP nonce


@api.post("/items", status_code=201)
async def create_item(item: Item) -> Item:
    return item


@api.get("/reports/expensive", dependencies=[Depends(RateLimitDependency("2/minute"))])
async def expensive_report() -> dict[str, str]:
    return {"report": "ready"}


app = harden(api, HardeningSettings(environment="development"))
