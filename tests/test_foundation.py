"""The foundation: errors, lazy imports, ASGI helpers and harden() with no layer configured."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from hardening import (
    LAYER_ORDER,
    ConfigurationError,
    HardeningError,
    HardeningSettings,
    MissingDependencyError,
    harden,
    middleware_list,
)
from hardening._asgi import get_header, on_response_start, remove_headers, request_id_of, scope_state, set_header
from hardening._imports import require


def all_layers_off() -> HardeningSettings:
    """Settings in which no layer is configured."""
    return HardeningSettings.model_validate({name: {"enabled": False} for name in LAYER_ORDER})


async def homepage(request: Request) -> Response:
    return JSONResponse({"hello": "world"}, headers={"x-app": "1"})


async def echo(request: Request) -> Response:
    body = await request.body()
    return PlainTextResponse(body, status_code=201, headers={"x-len": str(len(body))})


def starlette_app() -> Starlette:
    return Starlette(routes=[Route("/", homepage), Route("/echo", echo, methods=["POST"])])


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 418, "headers": [(b"x-bare", b"yes")]})
    await send({"type": "http.response.body", "body": b"teapot"})


async def fetch(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.request(method, path, **kwargs)


class TestErrors:
    def test_hierarchy(self) -> None:
        """ConfigurationError is a ValueError and MissingDependencyError an ImportError."""
        assert issubclass(ConfigurationError, HardeningError)
        assert issubclass(ConfigurationError, ValueError)
        assert issubclass(MissingDependencyError, HardeningError)
        assert issubclass(MissingDependencyError, ImportError)

    def test_missing_dependency_names_the_extra(self) -> None:
        """A missing optional package says which extra installs it."""
        with pytest.raises(MissingDependencyError, match=r"pip install 'hardening\[ratelimit\]'") as info:
            require("no_such_package_hardening_test", extra="ratelimit", feature="rate limiting")

        assert info.value.extra == "ratelimit"
        assert "rate limiting" in str(info.value)

    def test_require_returns_the_module(self) -> None:
        """An installed module is returned as is."""
        assert require("json", extra="x", feature="y").__name__ == "json"

    def test_configuration_error_carries_report(self) -> None:
        """The structured report travels with the error."""
        assert ConfigurationError("bad", report={"n": 1}).report == {"n": 1}


class TestAsgiHelpers:
    def test_set_header_replaces_without_duplicates(self) -> None:
        """set_header never leaves two copies of a header."""
        message: Message = {"type": "http.response.start", "headers": [(b"a", b"1"), (b"a", b"2"), (b"b", b"x")]}
        set_header(message, b"a", b"3")

        assert message["headers"] == [(b"b", b"x"), (b"a", b"3")]

    def test_set_header_keeps_app_value_when_not_replacing(self) -> None:
        """With replace=False the app's own header wins."""
        message: Message = {"type": "http.response.start", "headers": [(b"a", b"app")]}
        set_header(message, b"a", b"ours", replace=False)
        set_header(message, b"c", b"new", replace=False)

        assert message["headers"] == [(b"a", b"app"), (b"c", b"new")]

    def test_remove_and_get(self) -> None:
        """remove_headers drops every listed name; get_header reads the first value."""
        message: Message = {"type": "http.response.start", "headers": [(b"server", b"x"), (b"a", b"1")]}
        remove_headers(message, frozenset({b"server"}))

        assert message["headers"] == [(b"a", b"1")]
        assert get_header(message["headers"], b"a") == b"1"
        assert get_header(message["headers"], b"zz") is None

    @pytest.mark.anyio
    async def test_on_response_start_edits_only_the_start(self) -> None:
        """The edit callback sees the start message only."""
        seen: list[Message] = []

        async def send(message: Message) -> None:
            seen.append(message)

        wrapped = on_response_start(send, lambda m: set_header(m, b"x", b"y"))
        await wrapped({"type": "http.response.start", "status": 200, "headers": []})
        await wrapped({"type": "http.response.body", "body": b""})

        assert seen[0]["headers"] == [(b"x", b"y")]
        assert "headers" not in seen[1]

    def test_scope_state_and_request_id(self) -> None:
        """scope_state creates the per-request state; request_id_of reads the ID from it."""
        scope: Scope = {"type": "http"}
        assert request_id_of(scope) is None
        scope_state(scope)["request_id"] = "abc"

        assert request_id_of(scope) == "abc"


class TestHardenIdentity:
    @pytest.mark.anyio
    async def test_starlette_app_behaves_like_the_original(self) -> None:
        """With no layer configured, status, body and headers are unchanged."""
        original = starlette_app()
        hardened = harden(original, all_layers_off())

        for method, path, kwargs in [("GET", "/", {}), ("POST", "/echo", {"content": b"data"}), ("GET", "/nope", {})]:
            want = await fetch(original, method, path, **kwargs)
            got = await fetch(hardened, method, path, **kwargs)

            assert got.status_code == want.status_code
            assert got.content == want.content
            assert got.headers.multi_items() == want.headers.multi_items()

    @pytest.mark.anyio
    async def test_bare_asgi_callable_behaves_like_the_original(self) -> None:
        """harden() works on any ASGI callable, not just Starlette."""
        hardened = harden(bare_app, all_layers_off())
        response = await fetch(hardened, "GET", "/")

        assert response.status_code == 418
        assert response.content == b"teapot"
        assert response.headers["x-bare"] == "yes"

    def test_no_layer_means_the_app_itself(self) -> None:
        """Nothing is wrapped when nothing is enabled."""
        assert harden(bare_app, all_layers_off()) is bare_app
        assert middleware_list(all_layers_off()) == []

    @pytest.mark.anyio
    async def test_middleware_list_builds_a_starlette_stack(self) -> None:
        """middleware_list() entries work in Starlette(middleware=...)."""
        settings = all_layers_off()
        app = Starlette(routes=[Route("/", homepage)], middleware=middleware_list(settings))
        response = await fetch(app, "GET", "/")

        assert response.json() == {"hello": "world"}

    def test_layer_order_is_the_documented_one(self) -> None:
        """The order has one source of truth; the documented order is pinned here."""
        assert LAYER_ORDER == (
            "request_id",
            "access_log",
            "errors",
            "tracing",
            "headers",
            "health",
            "hosts",
            "https_redirect",
            "cors",
            "csrf",
            "body_limit",
            "rate_limit",
        )
        for name in LAYER_ORDER:
            assert name in HardeningSettings.model_fields


class TestSettingsSkeleton:
    def test_nested_env_variables(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """HARDENING_<SECTION>__<FIELD> reaches the nested config."""
        monkeypatch.setenv("HARDENING_ENVIRONMENT", "staging")
        monkeypatch.setenv("HARDENING_BODY_LIMIT__ENABLED", "false")
        settings = HardeningSettings()

        assert settings.environment == "staging"
        assert settings.body_limit.enabled is False

    def test_code_and_env_build_the_same(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Settings built in code equal the same settings read from the environment."""
        monkeypatch.setenv("HARDENING_ENVIRONMENT", "test")
        from_env = HardeningSettings()
        from_code = HardeningSettings(environment="test")

        assert from_env.model_dump() == from_code.model_dump()
