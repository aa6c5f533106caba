"""The apps the benchmarks compare: bare Starlette, each hardening layer, the full stack, the peers.

Every app answers ``GET /items/{id}`` with a small JSON body, so only the middleware differs.
``make_app()`` builds one by the name in ``BENCH_APP`` (used by uvicorn with ``--factory``).
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Callable
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

ORIGIN = "https://app.example.com"
HOST = "testserver"


async def item(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.path_params["item_id"], "name": "widget"})


def bare() -> Starlette:
    return Starlette(routes=[Route("/items/{item_id}", item)])


# ----------------------------------------------------------------------------- hardening

LAYER_OVERRIDES: dict[str, dict[str, Any]] = {
    "request_id": {},
    "access_log": {},
    "errors": {},
    "tracing": {},
    "health": {},
    "headers": {},
    "hosts": {"allowed_hosts": [HOST, "127.0.0.1", "localhost"]},
    "https_redirect": {},
    "cors": {"allow_origins": [ORIGIN]},
    "csrf": {},
    "body_limit": {},
    "rate_limit": {"storage_uri": "async+memory://", "default_limits": "1000000/second"},
}
"""Per-layer settings that make the layer do its real work on the benchmark request."""


def _quiet_access_log() -> None:
    """Send the access log to a null sink: we measure the middleware, not the terminal.

    The logger stays enabled at INFO, so the middleware builds every field and creates
    the log record; only the handler discards it.
    """
    for name in ("hardening.access", "hardening"):
        logger = logging.getLogger(name)
        logger.handlers = [logging.NullHandler()]
        logger.setLevel(logging.INFO)
        logger.propagate = False


JSON_LOG_APP = "hardening: full stack, JSON log lines"
"""The app whose access lines go through ``configure_logging()``'s JSON renderer."""

_DEVNULL: list[Any] = []


def _json_access_log() -> None:
    """Route the access log through ``configure_logging()``: JSON lines to /dev/null."""
    from hardening import configure_logging

    if not _DEVNULL:
        devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
        atexit.register(devnull.close)
        _DEVNULL.append(devnull)
    configure_logging(hardening_settings(), stream=_DEVNULL[0])
    for name in ("hardening.access", "hardening"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


def prepare(name: str) -> None:
    """Set the process-wide logging that app ``name`` is measured with (call before each run)."""
    if name == JSON_LOG_APP:
        _json_access_log()
    else:
        _quiet_access_log()


PEER_FEATURES: Final = ("request_id", "headers", "cors", "rate_limit")
"""The layers doing what the peer stack does: request IDs, security headers, CORS, rate limits."""

PEER_FEATURES_APP = "hardening: the peer stack's four features"
"""The like-for-like row: hardening with only :data:`PEER_FEATURES` on."""


def hardening_settings(only: str | tuple[str, ...] | None = None) -> Any:
    """Settings for the full stack, or for one layer or a few layers alone (``only``)."""
    from hardening import LAYER_ORDER, HardeningSettings

    kept = (only,) if isinstance(only, str) else only
    data: dict[str, Any] = {"environment": "production"}
    for name in LAYER_ORDER:
        overrides = dict(LAYER_OVERRIDES.get(name, {}))
        if kept is not None:
            overrides["enabled"] = name in kept
        data[name] = overrides
    if only is None:
        data["tracing"] = {"enabled": False}  # no OTel SDK in a default service; measured alone
    return HardeningSettings.model_validate(data)


def hardened(only: str | tuple[str, ...] | None = None) -> ASGIApp:
    from hardening import harden

    _quiet_access_log()
    return harden(bare(), hardening_settings(only))


def hardened_without(layer: str) -> ASGIApp:
    """The full stack with ``layer`` turned off."""
    from hardening import harden

    settings = hardening_settings()
    config = getattr(settings, layer)
    settings = settings.model_copy(update={layer: config.model_copy(update={"enabled": False})})
    _quiet_access_log()
    return harden(bare(), settings)


def full_stack_layers() -> list[str]:
    """The layers the full stack runs, outermost first."""
    from hardening import LAYER_ORDER

    settings = hardening_settings()
    return [name for name in LAYER_ORDER if getattr(settings, name).enabled]


# ----------------------------------------------------------------------------- peers


def peer_cors(app: ASGIApp) -> ASGIApp:
    from starlette.middleware.cors import CORSMiddleware

    return CORSMiddleware(app, allow_origins=[ORIGIN], allow_credentials=True)


def peer_secure(app: ASGIApp) -> ASGIApp:
    from secure import Secure
    from secure.middleware.asgi import SecureASGIMiddleware

    return SecureASGIMiddleware(app, secure=Secure.with_default_headers())  # type: ignore[return-value]


def peer_correlation_id(app: ASGIApp) -> ASGIApp:
    from asgi_correlation_id import CorrelationIdMiddleware

    return CorrelationIdMiddleware(app)


def peer_slowapi_app() -> Starlette:
    from slowapi import Limiter
    from slowapi.util import get_remote_address

    app = bare()
    app.state.limiter = Limiter(key_func=get_remote_address, default_limits=["1000000/second"])
    return app


def peer_slowapi() -> ASGIApp:
    """slowapi's ASGI middleware, added the documented way (it reads ``scope["app"]``)."""
    from slowapi.middleware import SlowAPIASGIMiddleware

    app = peer_slowapi_app()
    app.add_middleware(SlowAPIASGIMiddleware)
    return app


def peer_stack() -> ASGIApp:
    """The peer stack of the issue: CORS, secure, correlation ID and slowapi (ASGI)."""
    app: ASGIApp = peer_slowapi()
    app = peer_correlation_id(app)
    app = peer_secure(app)
    return peer_cors(app)


PRODUCTION_PEER_APP = "peer: production stack (the four + a structlog JSON access log)"
"""The peer stack a team would deploy: the four peers plus one JSON access line per request."""


def _structlog_json_logger() -> Any:
    """A structlog logger writing JSON lines to /dev/null, set up the way structlog's docs advise.

    The "Performance" chapter: ``make_filtering_bound_logger``, ``cache_logger_on_first_use``,
    orjson through ``JSONRenderer(serializer=orjson.dumps)`` and a ``BytesLoggerFactory``;
    the "Context variables" chapter: ``merge_contextvars`` first. Built with
    ``structlog.wrap_logger`` so it leaves the process-wide configuration (which hardening's
    ``configure_logging()`` sets for its own row) alone.
    """
    import structlog

    if not _DEVNULL:
        devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
        atexit.register(devnull.close)
        _DEVNULL.append(devnull)
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is in the bench group
        processors.append(structlog.processors.JSONRenderer())
        logger: Any = structlog.WriteLogger(_DEVNULL[0])
    else:
        processors.append(structlog.processors.JSONRenderer(serializer=orjson.dumps))
        logger = structlog.BytesLogger(_DEVNULL[0].buffer)
    return structlog.wrap_logger(
        logger,
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )


def peer_json_access_log(app: ASGIApp) -> ASGIApp:
    """A pure ASGI access-log middleware as structlog's docs recommend for web apps.

    It clears and binds the request context through ``structlog.contextvars`` (the
    request ID from asgi-correlation-id, which runs outside it), times the request and
    writes one JSON line when it ends.
    """
    import time

    import structlog
    from asgi_correlation_id import correlation_id

    log = _structlog_json_logger()
    clear, bind = structlog.contextvars.clear_contextvars, structlog.contextvars.bind_contextvars

    async def access_log(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        clear()
        bind(request_id=correlation_id.get())
        status = [500]
        start = time.perf_counter()

        async def send_status(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_status)
        finally:
            client = scope.get("client")
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status[0],
                duration_ms=round((time.perf_counter() - start) * 1000, 3),
                client=client[0] if client else None,
                user_agent=next((v.decode("latin-1") for k, v in scope["headers"] if k == b"user-agent"), None),
            )

    return access_log


def production_peer_stack() -> ASGIApp:
    """:data:`PRODUCTION_PEER_APP`: CORS, secure, correlation ID, the JSON access log, slowapi."""
    app: ASGIApp = peer_slowapi()
    app = peer_json_access_log(app)
    app = peer_correlation_id(app)
    app = peer_secure(app)
    return peer_cors(app)


HEADERS_ONLY_APP = "bare starlette + the full stack's response headers"
"""A control: the bare app sending the headers the full stack adds, with no middleware work."""


def full_stack_added_headers() -> list[tuple[bytes, bytes]]:
    """The response headers the full stack adds to the benchmark response, in its order.

    Found by sending the benchmark request through the full stack in process (in a thread
    with its own event loop, so a running loop, such as uvicorn's, is no obstacle).
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    sent: list[Any] = []

    async def one() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                sent.append(list(message.get("headers", [])))

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": "/items/42", "raw_path": b"/items/42", "root_path": "",
                 "query_string": b"", "headers": [(b"host", HOST.encode()), (b"origin", ORIGIN.encode())],
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {}}  # fmt: skip
        await hardened()(scope, receive, send)

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, one()).result()
    own = {b"content-length", b"content-type"}
    return [(name, value) for name, value in sent[0] if name not in own]


def headers_only() -> ASGIApp:
    """The bare app plus a fixed copy of the full stack's response headers (:data:`HEADERS_ONLY_APP`).

    Under a server this shows what the headers alone cost the server to write and the
    client to read: the ceiling of any middleware that sends them.
    """
    inner = bare()
    added = full_stack_added_headers()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await inner(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        await inner(scope, receive, send_with_headers)

    return app


def apps() -> dict[str, Callable[[], ASGIApp]]:
    """Every benchmarked app by name, bare first."""
    from hardening import LAYER_ORDER

    table: dict[str, Callable[[], ASGIApp]] = {"bare starlette": bare}
    for name in LAYER_ORDER:
        if name in LAYER_OVERRIDES:
            table[f"hardening: {name}"] = lambda name=name: hardened(name)  # type: ignore[misc]
    table["hardening: full stack"] = hardened
    table[JSON_LOG_APP] = hardened
    table[PEER_FEATURES_APP] = lambda: hardened(PEER_FEATURES)
    table[HEADERS_ONLY_APP] = headers_only
    table["peer: starlette CORS"] = lambda: peer_cors(bare())
    table["peer: secure"] = lambda: peer_secure(bare())
    table["peer: asgi-correlation-id"] = lambda: peer_correlation_id(bare())
    table["peer: slowapi (ASGI)"] = peer_slowapi
    table["peer: stack of the four"] = peer_stack
    table[PRODUCTION_PEER_APP] = production_peer_stack
    return table


def make_app() -> ASGIApp:
    """Factory for uvicorn: the app named by ``BENCH_APP``."""
    name = os.environ["BENCH_APP"]
    app = apps()[name]()
    prepare(name)
    return app
