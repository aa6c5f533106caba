"""The OpenAPI document of a hardened FastAPI app lists the problem+json answers it really sends."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError

from hardening import ConfigurationError, HardeningSettings, harden, install_problem_handlers
from hardening.openapi import (
    JSON_INTEGER,
    PROBLEM_SCHEMA,
    SWAGGER_ASSETS,
    add_problem_responses,
    document_problems,
    problem_response,
    serve_swagger_ui,
    swagger_ui_html,
)
from hardening.problems import PROBLEM_CONTENT_TYPE
from hardening.ratelimit import RateLimitDependency
from hardening.testing import audit_app
from tests.extras import import_extra

jsonschema = import_extra("jsonschema", "the test dependency group")

pytestmark = pytest.mark.needs_extras


class Item(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    quantity: int = Field(ge=1, le=10)


def build(**options: Any) -> FastAPI:
    api = FastAPI(title="Inventory", docs_url=None, redoc_url=None)
    install_problem_handlers(api)
    document_problems(api, **options)

    @api.post("/items", status_code=201)
    async def create_item(item: Item) -> Item:
        return item

    @api.get("/items/{item_id}")
    async def get_item(item_id: int) -> Item:
        raise HTTPException(404, "No such item.")

    @api.get("/limited", dependencies=[Depends(RateLimitDependency("1/minute", name="limited"))])
    async def limited() -> dict[str, str]:
        return {"ok": "yes"}

    @api.get("/plain")
    async def plain() -> dict[str, str]:
        return {"ok": "yes"}

    return api


async def limited_report() -> dict[str, str]:
    return {"report": "ready"}


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (one level is all the document uses)."""
    ref = node.get("$ref")
    if ref is None:
        return node
    target: Any = document
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return dict(target)


def responses(document: dict[str, Any], path: str, method: str) -> dict[str, dict[str, Any]]:
    raw = document["paths"][path][method]["responses"]
    return {status: resolve(document, response) for status, response in raw.items()}


def test_fastapi_default_documents_no_problem_and_the_wrong_422() -> None:
    """What document_problems() fixes: FastAPI alone claims a 422 the handlers never send."""
    api = FastAPI()
    install_problem_handlers(api)

    @api.post("/items")
    async def create_item(item: Item) -> Item:
        return item

    document = api.openapi()
    assert sorted(document["paths"]["/items"]["post"]["responses"]) == ["200", "422"]
    assert "HTTPValidationError" in document["components"]["schemas"]


def test_every_operation_lists_the_problems_it_can_get() -> None:
    document = build().openapi()
    post = responses(document, "/items", "post")
    assert sorted(post) == ["201", "400", "403", "404", "405", "413", "415", "422", "429", "500", "503"]
    # A GET has no body (no 413, 415) and is not refused by CSRF (no 403).
    assert sorted(responses(document, "/items/{item_id}", "get")) == [
        "200", "400", "404", "405", "422", "429", "500", "503",
    ]  # fmt: skip
    assert "422" not in responses(document, "/plain", "get")  # no parameter, no body: nothing to validate
    for status, response in post.items():
        if status == "201":
            continue
        (media,) = response["content"]
        assert media == PROBLEM_CONTENT_TYPE, status
        assert response["content"][media]["schema"]["$ref"] in {
            "#/components/schemas/Problem",
            "#/components/schemas/ValidationProblem",
        }


def test_fastapi_422_is_replaced_not_left_beside() -> None:
    document = build().openapi()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    unprocessable = responses(document, "/items", "post")["422"]
    assert list(unprocessable["content"]) == [PROBLEM_CONTENT_TYPE]
    assert unprocessable["content"][PROBLEM_CONTENT_TYPE]["schema"]["$ref"] == "#/components/schemas/ValidationProblem"
    item = schemas["ValidationProblem"]["properties"]["errors"]["items"]
    assert item["required"] == ["pointer", "detail", "code"]


def test_429_carries_the_rate_limit_headers_and_follows_where_limits_apply() -> None:
    document = build(rate_limited=False).openapi()
    assert "429" not in responses(document, "/plain", "get")
    limited = responses(document, "/limited", "get")["429"]  # its RateLimitDependency always applies
    assert sorted(limited["headers"]) == ["RateLimit", "RateLimit-Policy", "Retry-After"]
    assert document["components"]["headers"]["Retry-After"]["schema"]["type"] == "integer"

    api = build(rate_limited=False)
    router = APIRouter()
    router.add_api_route("/report", limited_report, dependencies=[Depends(RateLimitDependency("1/minute"))])
    api.include_router(router, prefix="/v2")
    assert "429" in responses(api.openapi(), "/v2/report", "get")  # found in an included router too

    per_path = build(rate_limited=lambda method, path: path == "/items").openapi()
    assert "429" in responses(per_path, "/items", "post")
    assert "429" not in responses(per_path, "/plain", "get")


def test_csrf_off_drops_the_403() -> None:
    assert "403" not in responses(build(csrf=False).openapi(), "/items", "post")


def test_declared_problem_responses_are_kept_and_the_input_is_not_changed() -> None:
    custom = {"description": "Out of stock.", "content": {PROBLEM_CONTENT_TYPE: {"schema": {"type": "object"}}}}
    plain_json = {"description": "Legacy.", "content": {"application/json": {}}}
    schema: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"post": {"requestBody": {}, "responses": {"409": custom, "413": custom, "400": plain_json}}}},
    }
    out = add_problem_responses(schema)
    post = out["paths"]["/x"]["post"]["responses"]
    assert post["413"] == custom  # declared as a problem: kept
    assert post["400"] == {"$ref": "#/components/responses/BadRequest"}  # not a problem: replaced
    assert schema["paths"]["/x"]["post"]["responses"]["400"] == plain_json
    assert "components" not in schema


def test_served_document_is_the_same_and_built_once() -> None:
    api = build()
    first = api.openapi()
    assert api.openapi() is first

    @api.get("/later")
    async def later() -> dict[str, str]:
        return {}

    assert "/later" in api.openapi()["paths"]  # a route added afterwards is documented too


@pytest.mark.anyio
async def test_real_answers_match_the_documented_schemas() -> None:
    api = build()
    settings = HardeningSettings(environment="development", body_limit={"max_bytes": 1000})
    app = harden(api, settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        document = (await client.get("/openapi.json")).json()
        answers = {
            "400": await client.post("/items", content=b'{"name": ', headers={"content-type": "application/json"}),
            "404": await client.get("/items/7"),
            "405": await client.delete("/items"),
            "413": await client.post("/items", content=b"[" * 2000, headers={"content-type": "application/json"}),
            "422": await client.post("/items", json={"name": "", "quantity": 99}),
        }
        await client.get("/limited")
        answers["429"] = await client.get("/limited")
        answers["400-host"] = await client.get("/plain", headers={"host": "evil.example"})
    validator = jsonschema.Draft202012Validator
    for status, response in answers.items():
        code = status.partition("-")[0]
        assert response.status_code == int(code), (status, response.text)
        assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
        path, method = ("/limited", "get") if code == "429" else ("/items", "post")
        documented = responses(document, path, method)[code]
        schema = {**documented["content"][PROBLEM_CONTENT_TYPE]["schema"], "components": document["components"]}
        validator(schema).validate(response.json())
        for header in documented.get("headers", {}):
            if header != "Allow":
                assert header.lower() in response.headers, (status, header)
    assert answers["422"].json()["errors"][0]["pointer"].startswith("/body/")
    validator(dict(PROBLEM_SCHEMA)).validate(answers["404"].json())


@pytest.mark.anyio
async def test_405_allow_lists_every_method_of_the_path() -> None:
    """Starlette alone puts only the first matching route's methods in Allow."""
    api = build()

    @api.get("/things")
    async def list_things() -> list[str]:
        return []

    @api.post("/things")
    async def add_thing() -> dict[str, str]:
        return {}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://localhost") as client:
        refused = await client.put("/things")
    assert refused.status_code == 405
    assert refused.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert refused.headers["allow"] == "GET, POST"
    assert refused.json()["type"] == "urn:hardening:problem:method-not-allowed"


def test_swagger_ui_page_escapes_its_configuration_and_carries_the_nonce() -> None:
    page = swagger_ui_html(
        openapi_url="/openapi.json",
        assets_url="/docs/assets",
        title="A <b> & C",
        nonce="abc",
        parameters={"x": "</script>"},
    )
    assert page.count('nonce="abc"') == 2
    assert "</script><" not in page.replace("</script>\n", "")  # the value cannot close the script
    assert "\\u003c/script\\u003e" in page
    assert "<title>A &lt;b&gt; &amp; C</title>" in page
    assert "nonce=" not in swagger_ui_html(openapi_url="/o", assets_url="/a", title="t", nonce=None)


@pytest.mark.anyio
async def test_serve_swagger_ui_serves_the_page_and_its_assets_under_the_docs_profile() -> None:
    api = FastAPI(title="Inventory", docs_url=None, redoc_url=None)
    serve_swagger_ui(api)
    app = harden(api, HardeningSettings(environment="development"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
        page = await client.get("/docs")
        assets = [await client.get(f"/docs/assets/{name}") for name in SWAGGER_ASSETS]
        schema = (await client.get("/openapi.json")).json()
    csp = page.headers["content-security-policy"]
    nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
    assert page.text.count(f'nonce="{nonce}"') == 2
    assert "'unsafe-inline'" not in csp
    assert "https:" not in csp
    assert [asset.status_code for asset in assets] == [200, 200, 200]
    assert assets[0].headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert "/docs" not in schema["paths"]  # the page is not an operation


def test_serve_swagger_ui_refuses_fastapi_own_page_and_a_missing_document() -> None:
    with pytest.raises(ConfigurationError, match="docs_url=None"):
        serve_swagger_ui(FastAPI())
    with pytest.raises(ConfigurationError, match="openapi_url"):
        serve_swagger_ui(FastAPI(docs_url=None, openapi_url=None))


def test_audit_grades_the_self_hosted_docs_a_plus() -> None:
    api = build()
    serve_swagger_ui(api)
    report = audit_app(harden(api, HardeningSettings(environment="development")), path="/docs")
    graded = {finding.id: finding for finding in report.findings}
    print(f"\naudit of /docs: {graded['AUD-HDR-001'].observed}")
    assert graded["AUD-HDR-001"].status == "pass"
    assert "grade A+" in graded["AUD-HDR-001"].observed
    assert graded["AUD-HDR-002"].status == "pass"


class Counted(BaseModel):
    count: Annotated[int, Field(ge=-(10**6), le=10**6), JSON_INTEGER]


COUNTED = jsonschema.Draft202012Validator(Counted.model_json_schema())


@given(
    st.one_of(
        st.integers(-(10**6), 10**6),
        st.integers(-(10**6), 10**6).map(float),
        st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
        st.booleans(),
        st.text(max_size=5),
        st.integers(-1000, 1000).map(str),
        st.none(),
    )
)
def test_json_integer_accepts_exactly_what_its_schema_accepts(value: object) -> None:
    by_schema = COUNTED.is_valid({"count": value})
    try:
        Counted.model_validate({"count": value})
    except ValidationError:
        by_model = False
    else:
        by_model = True
    assert by_model is by_schema, value


@pytest.mark.anyio
async def test_swagger_ui_without_the_headers_layer_has_no_nonce_attribute() -> None:
    api = FastAPI(title="Bare", docs_url=None, redoc_url=None)
    serve_swagger_ui(api)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://localhost") as client:
        page = await client.get("/docs")
    assert page.status_code == 200
    assert "nonce=" not in page.text
    assert '<script src="/docs/assets/swagger-ui-bundle.js">' in page.text


@pytest.mark.anyio
async def test_405_under_a_root_path_and_an_operation_own_problem() -> None:
    api = build()

    @api.post("/sync", responses={502: problem_response("The ERP could not be reached.", headers=["Retry-After"])})
    async def sync() -> dict[str, str]:
        return {}

    transport = httpx.ASGITransport(app=api, root_path="/api")
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        refused = await client.get("/api/sync")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "POST"
    declared = api.openapi()["paths"]["/sync"]["post"]["responses"]["502"]
    assert declared["content"] == {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert declared["headers"] == {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
