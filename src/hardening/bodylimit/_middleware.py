"""The body-limit middleware: size (413) and time (408) limits, counted as the app reads."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from starlette.requests import ClientDisconnect

from hardening.bodylimit._clock import BodyClock
from hardening.bodylimit._config import BodyLimitConfig, Times
from hardening.bodylimit._paths import PathTable
from hardening.problems import Problem, problem_type, send_problem

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from hardening._context import LayerContext

__all__ = ("BodyLimitMiddleware",)

_CLOSE: Final = (b"connection", b"close")
_DISCONNECT: Final = {"type": "http.disconnect"}
_BODILESS_METHODS: Final = frozenset({"GET", "HEAD"})
_FRAMED_VERSIONS: Final = frozenset({"1.0", "1.1"})
_logger = logging.getLogger("hardening.bodylimit")


def _too_large(limit: int) -> Problem:
    return Problem(
        413,
        type=problem_type("body-too-large"),
        detail=f"The request body is larger than the {limit} bytes accepted here.",
        extensions={"max_bytes": limit},
    )


def _too_slow(times: Times, waited: float, received: int) -> Problem:
    extensions: dict[str, object] = {"received_bytes": received, "waited_seconds": round(waited, 3)}
    if times.timeout is not None:
        extensions["timeout_seconds"] = times.timeout
    if times.min_rate is not None:
        extensions["min_bytes_per_second"] = times.min_rate
    return Problem(
        408,
        type=problem_type("body-timeout"),
        detail="The request body did not arrive in time (too slow, or stalled); the connection is closed.",
        extensions=extensions,
    )


def _parse_content_length(value: bytes) -> int | None:
    text = value.strip()
    if not text or not text.isdigit() or len(text) > 19:
        return None
    return int(text)


class BodyLimitMiddleware:
    """Pure ASGI middleware: 413 for bodies over the size limit, 408 for bodies too slow.

    Args:
        app: The ASGI app to wrap.
        config: The limits; defaults to :class:`BodyLimitConfig` (1 MiB, 30 s, 1 KiB/s
            after 5 s, everywhere).
        context: The stack's shared context (this layer needs nothing from it).
    """

    def __init__(
        self, app: ASGIApp, config: BodyLimitConfig | None = None, *, context: LayerContext | None = None
    ) -> None:
        config = config or BodyLimitConfig()
        self.app = app
        self._limit_for = PathTable[int | None](
            int(config.max_bytes), {k: None if v is None else int(v) for k, v in config.paths.items()}
        )
        layer = config.times()
        off = Times(None, None, 0.0)
        self._times_for = PathTable[Times](
            layer, {k: off if v is None else v.resolve(layer) for k, v in config.time_paths.items()}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check ``Content-Length``, then count and time the body as the app reads it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: bytes | None = None
        framed = False  # a Transfer-Encoding header
        for name, value in scope.get("headers", ()):  # one pass; the first Content-Length counts
            if name == b"content-length":
                if declared is None:
                    declared = value
            elif name == b"transfer-encoding":
                framed = True
        if (
            declared is None
            and not framed
            and scope.get("method") in _BODILESS_METHODS
            and scope.get("http_version") in _FRAMED_VERSIONS
        ):
            # HTTP/1.x frames a request body with Content-Length or Transfer-Encoding
            # (RFC 9112, 6.3): with neither, the body is empty, so there is nothing to
            # count and the request goes straight through, whatever the path's limit.
            # Kept to GET and HEAD, and not HTTP/2, whose bodies need no framing header.
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        path = path if isinstance(path, str) else ""
        limit = self._limit_for(path)
        times = self._times_for(path)
        if limit is None and times.off:
            await self.app(scope, receive, send)
            return
        if declared is not None:
            length = _parse_content_length(declared)
            if length is None:
                problem = Problem(
                    400,
                    type=problem_type("invalid-content-length"),
                    detail="The Content-Length header is not a valid length.",
                )
                await send_problem(scope, send, problem, headers=[_CLOSE])
                return
            if limit is not None and length > limit:
                await send_problem(scope, send, _too_large(limit))
                return
            if length == 0:
                times = Times(None, None, 0.0)  # nothing to wait for

        max_bytes = limit
        received = 0
        clock = None if times.off else BodyClock(times)  # None: nothing (more) to time
        over = False  # a limit was hit: the app only sees http.disconnect from now on
        response_started = False
        answered = False  # we sent the 413 or 408; the app's own response is dropped

        async def limited_receive() -> Message:
            nonlocal received, clock, over, answered
            if over:
                return dict(_DISCONNECT)
            if clock is None:
                message = await receive()
            else:
                arrived = await clock.receive(receive, received)
                if arrived is None:
                    over = True
                    if not response_started:
                        answered = True
                        # connection: close, so the server drops the rest of a body that
                        # may never come (uvicorn closes after this response).
                        problem = _too_slow(times, clock.waited, received)
                        await send_problem(scope, send, problem, headers=[_CLOSE])
                    return dict(_DISCONNECT)
                message = arrived
            if message["type"] != "http.request":
                return message
            received += len(message.get("body", b""))
            if clock is not None and not message.get("more_body", False):
                clock = None  # the body is complete: a wait for disconnect is not timed
            if max_bytes is None or received <= max_bytes:
                return message
            over = True
            if not response_started:
                answered = True
                await send_problem(scope, send, _too_large(max_bytes))
            return dict(_DISCONNECT)

        async def limited_send(message: Message) -> None:
            nonlocal response_started
            if answered:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, limited_send)
        except (ClientDisconnect, OSError):
            if not answered:
                raise
            _logger.debug("the app stopped reading after a body limit was hit")
