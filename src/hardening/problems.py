"""RFC 9457 ``application/problem+json`` responses, sent as raw ASGI messages.

Every layer of ``hardening`` that answers early (400, 403, 413, 429, 500, 503, ...)
answers with a problem document built here, so clients see one error format. A problem
never contains an exception message, a traceback or a submitted value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from hardening._asgi import request_id_of

__all__ = (
    "PROBLEM_CONTENT_TYPE",
    "PROBLEM_TYPE_BASE",
    "Problem",
    "ProblemResponse",
    "problem_type",
    "send_problem",
)

PROBLEM_CONTENT_TYPE: Final = "application/problem+json"
"""The media type of RFC 9457 problem documents."""

PROBLEM_TYPE_BASE: Final = "urn:hardening:problem:"
"""Prefix of the ``type`` URI of every problem type defined by ``hardening``."""

_RESERVED: Final = frozenset({"type", "title", "status", "detail", "instance"})


def problem_type(slug: str) -> str:
    """Return the ``type`` URI of a ``hardening`` problem, e.g. ``rate-limited``."""
    return PROBLEM_TYPE_BASE + slug


class Problem:
    """An RFC 9457 problem document.

    Args:
        status: The HTTP status code.
        type: A URI naming the problem type; ``about:blank`` means "just the status".
        title: A short, stable summary of the problem type; defaults to the status phrase.
        detail: An explanation of this occurrence, safe to show to the client.
        instance: A URI naming this occurrence (usually left out).
        extensions: Extra members such as ``request_id`` or ``errors``.
    """

    __slots__ = ("detail", "extensions", "instance", "status", "title", "type")

    def __init__(
        self,
        status: int,
        *,
        type: str = "about:blank",  # noqa: A002 - the RFC's member name
        title: str | None = None,
        detail: str | None = None,
        instance: str | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        if extensions and _RESERVED & extensions.keys():
            msg = f"extension members may not reuse the names {sorted(_RESERVED)}"
            raise ValueError(msg)
        self.status = status
        self.type = type
        self.title = title if title is not None else _phrase(status)
        self.detail = detail
        self.instance = instance
        self.extensions: dict[str, Any] = dict(extensions or {})

    def to_dict(self) -> dict[str, Any]:
        """Return the problem as a JSON-ready dict, members in RFC order."""
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail is not None:
            body["detail"] = self.detail
        if self.instance is not None:
            body["instance"] = self.instance
        body.update(self.extensions)
        return body

    def body(self) -> bytes:
        """Return the encoded JSON body."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()

    def __repr__(self) -> str:
        return f"Problem(status={self.status}, type={self.type!r}, title={self.title!r})"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def send_problem(
    scope: Scope,
    send: Send,
    problem: Problem,
    *,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Send ``problem`` as a complete response through raw ASGI ``send``.

    The request ID assigned by the request-ID layer is added as the ``request_id``
    extension member when present. ``HEAD`` requests get the headers and no body.
    """
    request_id = request_id_of(scope)
    if request_id is not None and "request_id" not in problem.extensions:
        problem.extensions["request_id"] = request_id
    body = problem.body()
    raw_headers = [
        (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": problem.status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body})


class ProblemResponse(Response):
    """A Starlette response carrying a :class:`Problem`, for exception handlers."""

    media_type = PROBLEM_CONTENT_TYPE

    def __init__(self, problem: Problem, *, headers: Mapping[str, str] | None = None) -> None:
        self.problem = problem
        super().__init__(content=None, status_code=problem.status, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the problem, adding the request ID when the request-ID layer assigned one."""
        request_id = request_id_of(scope)
        if request_id is not None and "request_id" not in self.problem.extensions:
            self.problem.extensions["request_id"] = request_id
        self.body = self.problem.body()
        self.headers["content-length"] = str(len(self.body))
        await super().__call__(scope, receive, send)
