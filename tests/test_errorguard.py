"""The error guard: exceptions become safe problem+json 500s, logged once, reported once."""

from __future__ import annotations

import io
import logging
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from hardening import HardeningSettings, LayerContext, build_layer
from hardening.checks import run_checks
from hardening.errorguard import CHECKS, ERROR_LOGGER_NAME, ErrorGuardConfig, ErrorGuardMiddleware
from hardening.problems import PROBLEM_CONTENT_TYPE, Problem, ProblemError, problem_type
from hardening.redaction import register_secret
from hardening.validation import install_problem_handlers
from tests.asgi_call import call, http_scope
from tests.uvicorn_server import serve

CANARY = "canary-s3cr3t-7f2a9"


async def _boom(request: Request) -> Response:
    raise RuntimeError(f"database password is {CANARY}")


def _starlette(*, debug: bool = False, handlers: bool = False) -> Starlette:
    app = Starlette(debug=debug, routes=[Route("/boom", _boom)])
    if handlers:
        install_problem_handlers(app)
    return app


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def _error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == ERROR_LOGGER_NAME and r.levelno >= logging.ERROR]


def _assert_safe_500(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    body: dict[str, Any] = response.json()
    assert body["type"] == problem_type("internal-error")
    assert body["status"] == 500
    assert CANARY not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    return body


@pytest.mark.anyio
@pytest.mark.parametrize(("debug", "handlers"), [(False, False), (True, False), (False, True)])
async def test_starlette_500_becomes_problem_with_request_id(
    caplog: pytest.LogCaptureFixture, debug: bool, handlers: bool
) -> None:
    """Plain, debug-mode and handler-equipped Starlette apps all answer a safe problem 500."""
    guarded = ErrorGuardMiddleware(_starlette(debug=debug, handlers=handlers))

    async def with_request_id(scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})["request_id"] = "req-123"
        await guarded(scope, receive, send)

    async with _client(with_request_id) as client:
        response = await client.get("/boom")

    body = _assert_safe_500(response)
    assert body["request_id"] == "req-123"
    records = _error_records(caplog)
    assert len(records) == 1, "logged exactly once"
    assert records[0].exc_info is not None
    assert records[0].exc_info[0] is RuntimeError
    assert getattr(records[0], "request_id", None) == "req-123"


@pytest.mark.anyio
async def test_bare_asgi_exception_becomes_problem() -> None:
    """Any ASGI app, not only Starlette, is guarded."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError(CANARY)

    async with _client(ErrorGuardMiddleware(app)) as client:
        response = await client.post("/x?token=abc", content=b"hello")
    _assert_safe_500(response)


@pytest.mark.anyio
async def test_development_shows_type_and_redacted_message(caplog: pytest.LogCaptureFixture) -> None:
    """In development the detail names the exception, with registered secrets masked."""
    register_secret(CANARY)
    app = build_layer(_starlette(), ErrorGuardConfig(), LayerContext.of(HardeningSettings(environment="development")))
    async with _client(app) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/plain"), "Starlette's answer is kept in development"

    async def bare(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError(f"database password is {CANARY}")

    app = build_layer(bare, ErrorGuardConfig(), LayerContext.of(HardeningSettings(environment="development")))
    async with _client(app) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.json()["detail"] == "RuntimeError: database password is [REDACTED]"
    assert CANARY not in response.text


@pytest.mark.anyio
@pytest.mark.parametrize("environment", ["production", "staging", "test"])
async def test_no_details_outside_development(environment: str) -> None:
    """Outside development the detail is a fixed sentence."""
    app = build_layer(
        _starlette(debug=True), ErrorGuardConfig(), LayerContext.of(HardeningSettings(environment=environment))
    )
    async with _client(app) as client:
        response = await client.get("/boom")
    _assert_safe_500(response)


@pytest.mark.anyio
async def test_http_exception_escaping_keeps_its_status(caplog: pytest.LogCaptureFixture) -> None:
    """An HTTPException raised outside a router (e.g. in a middleware) keeps its status."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise HTTPException(405, headers={"Allow": "GET"})

    async with _client(ErrorGuardMiddleware(app)) as client:
        response = await client.post("/")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json()["type"] == problem_type("method-not-allowed")
    assert not _error_records(caplog), "a 4xx is not an unhandled error"


@pytest.mark.anyio
async def test_problem_error_escaping_is_sent_as_is() -> None:
    """A ProblemError that escapes the app is answered with its problem."""
    problem = Problem(409, type=problem_type("conflict"), detail="Already exists.", extensions={"id": 7})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ProblemError(problem)

    async with _client(ErrorGuardMiddleware(app)) as client:
        first = await client.get("/")
        second = await client.get("/")
    assert first.status_code == 409
    assert first.json() == {
        "type": problem_type("conflict"),
        "title": "Conflict",
        "status": 409,
        "detail": "Already exists.",
        "id": 7,
    }
    assert second.json() == first.json()
    assert problem.extensions == {"id": 7}, "the raised problem is not mutated"


@pytest.mark.anyio
async def test_started_response_is_not_started_twice(caplog: pytest.LogCaptureFixture) -> None:
    """After the start was sent, the guard logs and returns: no second start, no fake end."""

    async def stream() -> Any:
        yield b"first part;"
        raise RuntimeError(CANARY)

    async def endpoint(request: Request) -> Response:
        return StreamingResponse(stream())

    app = ErrorGuardMiddleware(Starlette(routes=[Route("/", endpoint)]))
    result = await call(app, http_scope())

    assert len(result.starts) == 1
    assert result.status == 200
    assert result.body == b"first part;"
    assert not result.complete, "the body is left unterminated so the server closes the connection"
    assert len(_error_records(caplog)) == 1
    assert getattr(_error_records(caplog)[0], "response_started", None) is True


@pytest.mark.anyio
async def test_real_server_closes_a_started_response_without_faking_its_end(caplog: pytest.LogCaptureFixture) -> None:
    """Through uvicorn, the client sees a truncated body, never a complete-looking one."""

    async def stream() -> Any:
        yield b"partial;"
        raise RuntimeError(CANARY)

    async def endpoint(request: Request) -> Response:
        return StreamingResponse(stream())

    app = ErrorGuardMiddleware(Starlette(routes=[Route("/", endpoint)]))
    received: list[bytes] = []

    async def read_all(client: httpx.AsyncClient, url: str) -> None:
        async with client.stream("GET", url) as response:
            assert response.status_code == 200
            async for chunk in response.aiter_bytes():
                received.append(chunk)

    async with serve(app) as url, httpx.AsyncClient() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await read_all(client, url)
        assert (await client.get(url + "/missing")).status_code == 404, "the server keeps serving"
    assert b"".join(received) == b"partial;"
    assert len(_error_records(caplog)) == 1
    assert not [r for r in caplog.records if "Exception in ASGI application" in r.getMessage()], "not re-raised"


@pytest.mark.anyio
async def test_exception_after_complete_response_is_only_logged(caplog: pytest.LogCaptureFixture) -> None:
    """An exception after the response was complete (a background task) is logged once."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("done")(scope, receive, send)
        raise RuntimeError("background task failed")

    result = await call(ErrorGuardMiddleware(app), http_scope())
    assert result.status == 200
    assert result.body == b"done"
    assert len(result.messages) == 2
    assert len(_error_records(caplog)) == 1


@pytest.mark.anyio
async def test_deliberate_500_passes_through_unchanged() -> None:
    """A 500 the app answers on purpose, without raising, reaches the client as sent."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("custom failure", status_code=500)(scope, receive, send)

    async with _client(ErrorGuardMiddleware(app)) as client:
        response = await client.get("/")
    assert response.status_code == 500
    assert response.text == "custom failure"


@pytest.mark.anyio
async def test_large_deliberate_500_is_streamed_not_held() -> None:
    """A held 500 is flushed once it grows past the hold limit, and then streams on."""
    chunk = b"x" * 100_000

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 500, "headers": []})
        for _ in range(5):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    result = await call(ErrorGuardMiddleware(app), http_scope())
    assert result.status == 500
    assert result.body == chunk * 5
    assert result.complete


@pytest.mark.anyio
async def test_client_gone_while_answering_does_not_raise() -> None:
    """If sending the 500 fails (client gone), the guard swallows it."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    attempts: list[Message] = []

    async def send(message: Message) -> None:
        attempts.append(message)
        raise OSError("connection reset")

    await ErrorGuardMiddleware(app)(http_scope(), receive, send)
    assert [(m["type"], m.get("status")) for m in attempts] == [("http.response.start", 500)]


@pytest.mark.anyio
async def test_non_http_scopes_pass_through() -> None:
    """Lifespan and websocket scopes reach the app untouched, exceptions included."""
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])
        raise RuntimeError("lifespan failure")

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        return None

    with pytest.raises(RuntimeError):
        await ErrorGuardMiddleware(app)({"type": "lifespan"}, receive, send)
    assert seen == ["lifespan"]


def test_disabled_config_returns_app_itself() -> None:
    """``enabled=False`` leaves the app unwrapped; the default is on."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    assert build_layer(app, ErrorGuardConfig(enabled=False)) is app
    assert isinstance(build_layer(app, ErrorGuardConfig()), ErrorGuardMiddleware)
    assert HardeningSettings().errors.enabled is True


def test_production_rule_flags_a_disabled_guard() -> None:
    """HARDENING-ERRORS-001 fires in production only, and is collected by run_checks."""

    def ids(settings: HardeningSettings) -> list[str]:
        return [finding.id for check in CHECKS for finding in check(settings)]

    off = ErrorGuardConfig(enabled=False)
    assert ids(HardeningSettings(environment="production", errors=off)) == ["HARDENING-ERRORS-001"]
    assert ids(HardeningSettings(environment="development", errors=off)) == []
    assert ids(HardeningSettings(environment="production")) == []
    found = run_checks(HardeningSettings(environment="production", errors=off))
    assert "HARDENING-ERRORS-001" in {finding.id for finding in found}


@pytest.mark.anyio
async def test_unencodable_problem_error_falls_back_to_a_plain_500(caplog: pytest.LogCaptureFixture) -> None:
    """A ProblemError whose extension is not JSON, or whose header is not latin-1, still gets an answer."""

    async def bad_extension(scope: Scope, receive: Receive, send: Send) -> None:
        raise ProblemError(Problem(409, extensions={"when": object()}))

    async def bad_header(scope: Scope, receive: Receive, send: Send) -> None:
        raise HTTPException(429, headers={"Retry-After": "soon \u2603"})

    for app in (bad_extension, bad_header):
        result = await call(ErrorGuardMiddleware(app), http_scope())
        assert result.status == 500
        assert result.json()["type"] == problem_type("internal-error")


@pytest.mark.anyio
async def test_log_line_is_redacted_without_configure_logging() -> None:
    """With plain stdlib logging (no configure_logging), the traceback text is redacted too."""
    register_secret(CANARY)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger(ERROR_LOGGER_NAME)
    logger.addHandler(handler)
    try:
        async with _client(ErrorGuardMiddleware(_starlette())) as client:
            response = await client.get("/boom?token=canary-query-1")
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 500
    text = stream.getvalue()
    assert "ERROR hardening.errors Unhandled exception in ASGI application: GET /boom" in text
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: database password is [REDACTED]" in text
    assert CANARY not in text
    assert "canary-query-1" not in text


@pytest.mark.anyio
async def test_client_gone_mid_response_is_not_an_app_error(caplog: pytest.LogCaptureFixture) -> None:
    """The server's send failing (client disconnected) is logged at DEBUG, never as an unhandled error."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        await send({"type": "http.response.body", "body": b"rest"})

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise OSError("connection reset by peer")
        sent.append(message)

    caplog.set_level(logging.DEBUG, logger="hardening")
    await ErrorGuardMiddleware(app)(http_scope(), receive, send)  # swallowed: nothing left to answer
    assert [m["type"] for m in sent] == ["http.response.start"]
    records = [r for r in caplog.records if r.name.startswith("hardening")]
    assert [r.levelno for r in records] == [logging.DEBUG]
    assert "client went away" in records[0].getMessage()


@pytest.mark.anyio
async def test_an_oserror_of_the_app_itself_is_still_a_500(caplog: pytest.LogCaptureFixture) -> None:
    """An OSError the app raised on its own (a refused database connection) is an app error."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ConnectionRefusedError("database at 10.0.0.5:5432 refused")

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    caplog.set_level(logging.DEBUG, logger="hardening")
    await ErrorGuardMiddleware(app)(http_scope(), receive, send)
    assert sent[0]["status"] == 500
    assert any(r.levelno == logging.ERROR for r in caplog.records if r.name.startswith("hardening"))
