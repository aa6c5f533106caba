"""Problem handlers for Starlette and FastAPI, and validation helpers for Starlette."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Query
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, field_validator
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from hardening.errorguard import ErrorGuardMiddleware
from hardening.problems import PROBLEM_CONTENT_TYPE, STATUS_PROBLEM_TYPES, problem_type
from hardening.validation import (
    errors_to_problem,
    install_problem_handlers,
    json_pointer,
    parse_body,
    parse_path,
    parse_query,
    validate,
)

PASSWORD = "hunter2-canary-Zq9"
RAISED_STATUSES = (413, 415, 429, 503)


class NewUser(BaseModel):
    """A JSON body."""

    name: str = Field(min_length=2)
    password: str = Field(min_length=12)
    age: int = Field(ge=0)

    @field_validator("name")
    @classmethod
    def _no_admin(cls, value: str) -> str:
        if value == "admin":
            msg = "reserved name"
            raise ValueError(msg)
        return value


class Paging(BaseModel):
    """A query string with a list field."""

    limit: int = Field(default=10, le=100)
    tag: list[str] = []
    sort: Annotated[list[str] | None, Field(alias="order")] = None


class ItemPath(BaseModel):
    """Path parameters."""

    item_id: int = Field(gt=0)


@validate(body=NewUser, query=Paging)
async def create_user(request: Request, body: NewUser, query: Paging) -> Response:
    return JSONResponse({"name": body.name, "limit": query.limit, "tag": query.tag, "order": query.sort})


@validate(path=ItemPath)
async def get_item(request: Request, path: ItemPath) -> Response:
    return JSONResponse({"item_id": path.item_id})


async def items_bulk(request: Request) -> Response:
    items = await parse_body(request, list[ItemPath])
    return JSONResponse({"count": len(items)})


async def raise_status(request: Request) -> Response:
    status = int(request.path_params["status"])
    headers = {"Retry-After": "30"} if status in {429, 503} else None
    raise StarletteHTTPException(status, headers=headers)


async def crash(request: Request) -> Response:
    raise RuntimeError(f"password={PASSWORD}")


def _starlette_app() -> Starlette:
    app = Starlette(
        routes=[
            Route("/users", create_user, methods=["POST"]),
            Route("/items/{item_id}", get_item),
            Route("/items", items_bulk, methods=["PUT"]),
            Route("/status/{status:int}", raise_status),
            Route("/crash", crash),
        ]
    )
    install_problem_handlers(app)
    return app


class FastUser(BaseModel):
    """A FastAPI body."""

    email: str
    password: str = Field(min_length=20)


def _fastapi_app() -> FastAPI:
    api = FastAPI()

    @api.post("/users")
    async def fast_create(user: FastUser, limit: Annotated[int, Query(le=100)] = 10) -> dict[str, Any]:
        return {"email": user.email}

    @api.get("/status/{status}")
    async def fast_status(status: int) -> None:
        if status == 418:
            raise HTTPException(418, detail={"code": "teapot"})
        raise HTTPException(status, headers={"Retry-After": "30"} if status in {429, 503} else None)

    @api.get("/crash")
    async def fast_crash() -> None:
        raise RuntimeError(f"password={PASSWORD}")

    install_problem_handlers(api)
    return api


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _client(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=ErrorGuardMiddleware(app)), base_url="http://testserver")


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    expected = problem_type("malformed-json") if status == 400 else STATUS_PROBLEM_TYPES.get(status, "about:blank")
    assert body["type"] == expected
    assert PASSWORD not in response.text
    return body


@pytest.fixture(params=["starlette", "fastapi"])
def app(request: pytest.FixtureRequest) -> ASGIApp:
    """The same checks run against a Starlette and a FastAPI app."""
    return _starlette_app() if request.param == "starlette" else _fastapi_app()


@pytest.mark.anyio
async def test_every_status_is_a_problem(app: ASGIApp) -> None:
    """404, 405 (with Allow), 413, 415, 422, 429, 500 and 503 are problem documents."""
    async with _client(app) as client:
        _problem(await client.get("/nowhere"), 404)
        not_allowed = await client.delete("/users")
        _problem(not_allowed, 405)
        assert "POST" in not_allowed.headers["allow"]
        for status in RAISED_STATUSES:
            response = await client.get(f"/status/{status}")
            _problem(response, status)
            if status in {429, 503}:
                assert response.headers["retry-after"] == "30"
        # Our Starlette helpers enforce the content type; FastAPI reports the body as invalid.
        wrong_type = 422 if isinstance(app, FastAPI) else 415
        _problem(await client.post("/users", content=b"name=x", headers={"content-type": "text/plain"}), wrong_type)
        _problem(await client.post("/users", json={"password": PASSWORD}), 422)
        crash = _problem(await client.get("/crash"), 500)
        assert "RuntimeError" not in json.dumps(crash)


@pytest.mark.anyio
async def test_fastapi_validation_errors_point_and_never_echo() -> None:
    """FastAPI's 422 lists pointers and messages, never ``input`` or ``ctx``."""
    async with _client(_fastapi_app()) as client:
        response = await client.post("/users?limit=1000", json={"password": PASSWORD})
    body = _problem(response, 422)
    pointers = {error["pointer"]: error for error in body["errors"]}
    assert set(pointers) == {"/body/email", "/body/password", "/query/limit"}
    assert pointers["/body/email"]["code"] == "missing"
    assert all(set(error) == {"pointer", "detail", "code"} for error in body["errors"])


@pytest.mark.anyio
async def test_fastapi_malformed_json_is_400_without_echo() -> None:
    """A body that is not JSON is a 400 that does not repeat it."""
    async with _client(_fastapi_app()) as client:
        response = await client.post(
            "/users", content=b'{"password": "' + PASSWORD.encode(), headers={"content-type": "application/json"}
        )
    body = _problem(response, 400)
    assert body["type"] == problem_type("malformed-json")


@pytest.mark.anyio
async def test_fastapi_http_exception_with_structured_detail() -> None:
    """A non-string ``detail`` is kept under ``data``."""
    async with _client(_fastapi_app()) as client:
        response = await client.get("/status/418")
    assert response.status_code == 418
    assert response.json() == {
        "type": "about:blank",
        "title": "I'm a Teapot",
        "status": 418,
        "data": {"code": "teapot"},
    }


@pytest.mark.anyio
async def test_starlette_validate_decorator_happy_path() -> None:
    """Valid requests reach the endpoint with parsed values; lists and aliases work."""
    async with _client(_starlette_app()) as client:
        response = await client.post(
            "/users?limit=5&tag=a&tag=b&order=x&order=y",
            json={"name": "ada", "password": PASSWORD, "age": 36},
        )
        item = await client.get("/items/7")
        bulk = await client.put(
            "/items", json=[{"item_id": 1}, {"item_id": 2}], headers={"content-type": "application/vnd.api+json"}
        )
    assert response.json() == {"name": "ada", "limit": 5, "tag": ["a", "b"], "order": ["x", "y"]}
    assert item.json() == {"item_id": 7}
    assert bulk.json() == {"count": 2}


@pytest.mark.anyio
async def test_starlette_invalid_body_query_and_path_are_422_with_pointers() -> None:
    """Errors point at the body field, the query parameter and the path parameter."""
    async with _client(_starlette_app()) as client:
        body_errors = await client.post("/users?limit=1000", json={"name": "admin", "password": PASSWORD, "age": -1})
        query_errors = await client.post("/users?limit=lots", json={"name": "ada", "password": PASSWORD, "age": 1})
        path_errors = await client.get("/items/0")
        bulk_errors = await client.put("/items", json=[{"item_id": 1}, {"item_id": "x"}])
    assert [e["pointer"] for e in _problem(query_errors, 422)["errors"]] == ["/query/limit"]
    assert [e["pointer"] for e in _problem(path_errors, 422)["errors"]] == ["/path/item_id"]
    assert [e["pointer"] for e in _problem(bulk_errors, 422)["errors"]] == ["/body/1/item_id"]
    errors = _problem(body_errors, 422)["errors"]
    assert [e["pointer"] for e in errors] == ["/query/limit"], "query is checked before the body is read"


@pytest.mark.anyio
async def test_starlette_body_errors_never_echo_the_value() -> None:
    """A too-short password is reported by pointer and rule, never by value."""
    async with _client(_starlette_app()) as client:
        response = await client.post("/users", json={"name": "admin", "password": "short-" + PASSWORD[:5], "age": -1})
    body = _problem(response, 422)
    assert {e["pointer"] for e in body["errors"]} == {"/body/name", "/body/password", "/body/age"}
    assert PASSWORD[:5] not in response.text
    assert "admin" not in response.text
    assert body["detail"] == "The request has 3 invalid fields."


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"name": "ada", "password": "', "application/json", 400),
        (b"", "application/json", 400),
        (b"\xff\xfe\x00", "application/json; charset=utf-8", 400),
        (b"{}", "text/plain", 415),
        (b"{}", "", 415),
        (b"{}", "application/jsonx", 415),
        (b"name=ada", "application/x-www-form-urlencoded", 415),
    ],
)
async def test_starlette_malformed_or_wrong_type_body(content: bytes, content_type: str, status: int) -> None:
    """Malformed JSON is a 400 that does not echo it; a non-JSON body is a 415."""
    async with _client(_starlette_app()) as client:
        response = await client.post(
            "/users", content=content, headers={"content-type": content_type} if content_type else {}
        )
    body = _problem(response, status)
    assert "ada" not in response.text
    if status == 415:
        assert response.headers["accept-post"] == "application/json"
        assert body["type"] == problem_type("unsupported-media-type")


@pytest.mark.anyio
async def test_parse_helpers_raise_problem_errors_handled_without_decorator() -> None:
    """parse_* raise ProblemError; install_problem_handlers turns it into the problem."""

    async def endpoint(request: Request) -> Response:
        query = parse_query(request, Paging)
        path = parse_path(request, ItemPath)
        return JSONResponse({"limit": query.limit, "item_id": path.item_id})

    app = Starlette(routes=[Route("/things/{item_id}", endpoint, methods=["GET", "PATCH"])])
    install_problem_handlers(app)
    async with _client(app) as client:
        ok = await client.get("/things/3?limit=4")
        bad = await client.get("/things/3?limit=x")

    assert ok.json() == {"limit": 4, "item_id": 3}
    assert _problem(bad, 422)["errors"][0]["pointer"] == "/query/limit"


@pytest.mark.anyio
async def test_parse_body_accepts_unhashable_type_expressions() -> None:
    """``Annotated`` types with constraints validate too (they cannot be cached)."""
    bounded = Annotated[list[int], Field(max_length=2)]

    async def endpoint(request: Request) -> Response:
        values = await parse_body(request, bounded)
        return JSONResponse({"sum": sum(values)})

    app = Starlette(routes=[Route("/sum", endpoint, methods=["POST"])])
    install_problem_handlers(app)
    async with _client(app) as client:
        ok = await client.post("/sum", json=[1, 2])
        too_many = await client.post("/sum", json=[1, 2, 3])
    assert ok.json() == {"sum": 3}
    assert _problem(too_many, 422)["errors"][0]["pointer"] == "/body"


@pytest.mark.anyio
async def test_starlette_route_max_body_size_is_a_problem() -> None:
    """Starlette's own per-route limit answers a streamed body through our handlers.

    (With a declared Content-Length over its limit, Starlette swaps in its own text 413;
    the body-limit layer answers those before Starlette sees them.)
    """

    async def endpoint(request: Request) -> Response:
        return JSONResponse({"length": len(await request.body())})

    app = Starlette(routes=[Route("/small", endpoint, methods=["POST"], max_body_size=10)])
    install_problem_handlers(app)
    async with _client(app) as client:
        response = await client.post("/small", content=_chunks(b"x" * 6, b"x" * 6))
    assert _problem(response, 413)["title"] == "Content Too Large"


@pytest.mark.anyio
async def test_patch_415_names_accept_patch() -> None:
    """A 415 on PATCH advertises ``Accept-Patch``."""

    async def endpoint(request: Request) -> Response:
        await parse_body(request, dict[str, int])
        return Response(status_code=204)

    app = Starlette(routes=[Route("/x", endpoint, methods=["PATCH"])])
    install_problem_handlers(app)
    async with _client(app) as client:
        response = await client.patch("/x", content=b"a", headers={"content-type": "text/plain"})
    _problem(response, 415)
    assert response.headers["accept-patch"] == "application/json"


@pytest.mark.anyio
async def test_http_exception_304_has_no_body() -> None:
    """Statuses that forbid a body get none."""

    async def endpoint(request: Request) -> Response:
        raise StarletteHTTPException(304)

    app = Starlette(routes=[Route("/x", endpoint)])
    install_problem_handlers(app)
    async with _client(app) as client:
        response = await client.get("/x")
    assert response.status_code == 304
    assert response.content == b""


def test_errors_to_problem_drops_input_and_ctx() -> None:
    """Only pointer, message and type survive; messages are redacted."""
    problem = errors_to_problem(
        [
            {
                "loc": ("password",),
                "msg": "bad https://u:p4ss@h/",
                "type": "value_error",
                "input": PASSWORD,
                "ctx": {"x": PASSWORD},
            }
        ],
        prefix=("body",),
    )
    errors = problem.to_dict()["errors"]
    assert errors == [{"pointer": "/body/password", "detail": "bad https://[REDACTED]@h/", "code": "value_error"}]
    assert problem.status == 422
    assert problem.to_dict()["detail"] == "The request has 1 invalid field."


class _Cat(BaseModel):
    kind: Literal["cat"]


class _Dog(BaseModel):
    kind: Literal["dog"]


class _Pet(BaseModel):
    pet: Annotated[_Cat | _Dog, Field(discriminator="kind")]


@pytest.mark.anyio
async def test_discriminator_tag_is_not_echoed() -> None:
    """pydantic quotes the submitted tag in ``union_tag_invalid``; the problem does not."""

    @validate(body=_Pet)
    async def endpoint(request: Request, body: _Pet) -> Response:
        return JSONResponse({})

    app = Starlette(routes=[Route("/pets", endpoint, methods=["POST"])])
    async with _client(app) as client:
        response = await client.post("/pets", json={"pet": {"kind": PASSWORD}})
    assert response.status_code == 422
    assert PASSWORD not in response.text
    [error] = response.json()["errors"]
    assert error == {
        "pointer": "/body/pet",
        "detail": "Input tag found using 'kind' does not match any of the expected tags: 'cat', 'dog'",
        "code": "union_tag_invalid",
    }


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


@given(st.lists(st.one_of(st.text(max_size=8), st.integers(min_value=0, max_value=99)), max_size=5))
def test_json_pointer_round_trips(location: list[str | int]) -> None:
    """RFC 6901 escaping: splitting the pointer on '/' gives back every location part."""
    pointer = json_pointer(location)
    assert pointer == "" or pointer.startswith("/")
    tokens = pointer.split("/")[1:] if pointer else []
    assert [_unescape(token) for token in tokens] == [str(part) for part in location]
