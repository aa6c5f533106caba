"""Strict JSON in parse_body: NaN, Infinity, -Infinity and numbers beyond float range are refused.

Python's parsers (and pydantic's) accept them, and a ``float`` field then holds ``nan``
or ``inf``: sums and averages turn to NaN, comparisons all fail, and JSON written back
out is invalid. The answer is a 422 problem whose pointer names the field.
"""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hardening.validation import install_problem_handlers, json_pointer, parse_body

NON_FINITE = ("NaN", "Infinity", "-Infinity", "1e999999", "-1e999999", "2e308")


class Strict(BaseModel):
    """A FastAPI body model that refuses non-finite floats itself."""

    model_config = ConfigDict(allow_inf_nan=False)
    value: float


class Reading(BaseModel):
    """A model with a float field."""

    sensor: str
    value: float


async def reading(request: Request) -> Response:
    body = await parse_body(request, Reading)
    return JSONResponse({"value": body.value})


async def anything(request: Request) -> Response:
    body = await parse_body(request, Any)
    return JSONResponse({"ok": True, "type": type(body).__name__})


async def lenient(request: Request) -> Response:
    body = await parse_body(request, Reading, strict_json=False)
    return JSONResponse({"finite": math.isfinite(body.value)})


def app() -> Starlette:
    routes = [
        Route("/reading", reading, methods=["POST"]),
        Route("/any", anything, methods=["POST"]),
        Route("/lenient", lenient, methods=["POST"]),
    ]
    starlette = Starlette(routes=routes)
    install_problem_handlers(starlette)
    return starlette


APP = app()


async def post(path: str, raw: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=APP)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await http.post(path, content=raw, headers={"content-type": "application/json"})


@pytest.mark.anyio
@pytest.mark.parametrize("token", NON_FINITE)
async def test_a_non_finite_number_in_a_float_field_is_422_at_the_field(token: str) -> None:
    response = await post("/reading", f'{{"sensor": "t1", "value": {token}}}')
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    [error] = response.json()["errors"]
    assert error["pointer"] == "/body/value"
    assert "finite" in error["detail"]
    assert error["code"] == "finite_number"


@pytest.mark.anyio
async def test_finite_numbers_and_the_word_nan_in_strings_are_fine() -> None:
    ok = await post("/reading", '{"sensor": "NaN Infinity 1e999999", "value": 1.7976931348623157e308}')
    assert ok.status_code == 200
    assert ok.json() == {"value": 1.7976931348623157e308}


@pytest.mark.anyio
async def test_strict_json_can_be_turned_off_per_call() -> None:
    response = await post("/lenient", '{"sensor": "t1", "value": NaN}')
    assert response.json() == {"finite": False}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _containers(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], Any]]:
    found: list[tuple[tuple[str | int, ...], Any]] = []
    if isinstance(value, (dict, list)):
        found.append((path, value))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            found.extend(_containers(child, (*path, key)))
    return found


@pytest.mark.anyio
@given(document=st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=4), data=st.data())
async def test_any_document_with_one_non_finite_number_is_refused_at_its_place(document: Any, data: Any) -> None:
    # Finite documents pass as they are.
    accepted = await post("/any", json.dumps(document))
    assert accepted.status_code == 200
    # Put a marker somewhere, then replace it with a non-finite token in the raw text.
    path, container = data.draw(st.sampled_from(_containers(document)))
    key: str | int = data.draw(st.text(max_size=6)) if isinstance(container, dict) else len(container)
    if isinstance(container, dict):
        container[key] = "__marker__"
    else:
        container.append("__marker__")
    token = data.draw(st.sampled_from(NON_FINITE))
    raw = json.dumps(document).replace('"__marker__"', token, 1)
    refused = await post("/any", raw)
    assert refused.status_code == 422, raw
    [error] = refused.json()["errors"]
    assert error["pointer"] == json_pointer(("body", *path, key))


@pytest.mark.anyio
async def test_fastapi_models_refuse_non_finite_numbers_with_allow_inf_nan_off() -> None:
    """What the docs advise for FastAPI, which parses the body itself: a 422 at the field."""
    api = FastAPI()
    install_problem_handlers(api)

    @api.post("/strict")
    async def strict(body: Strict) -> dict[str, float]:
        return {"value": body.value}

    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post("/strict", content='{"value": NaN}', headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert [error["pointer"] for error in response.json()["errors"]] == ["/body/value"]
