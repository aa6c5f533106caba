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

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from hardening._asgi import request_id_of

__all__ = (
    "PROBLEM_CONTENT_TYPE",
    "PROBLEM_TYPE_BASE",
    "STATUS_PROBLEM_TYPES",
    "Problem",
    "ProblemError",
    "ProblemResponse",
    "problem_for_status",
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


STATUS_PROBLEM_TYPES: Final[Mapping[int, str]] = {
    400: problem_type("bad-request"),
    401: problem_type("unauthorized"),
    403: problem_type("forbidden"),
    404: problem_type("not-found"),
    405: problem_type("method-not-allowed"),
    413: problem_type("body-too-large"),
    415: problem_type("unsupported-media-type"),
    422: problem_type("validation-failed"),
    429: problem_type("rate-limited"),
    500: problem_type("internal-error"),
    503: problem_type("unavailable"),
}
"""The problem type used for each status when nothing more specific applies.

Statuses not listed get ``about:blank`` (RFC 9457: "no more than the status code").
"""


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


def problem_for_status(
    status: int,
    *,
    detail: str | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> Problem:
    """Return a :class:`Problem` for ``status`` with its type from :data:`STATUS_PROBLEM_TYPES`.

    Args:
        status: The HTTP status code.
        detail: A client-safe explanation of this occurrence.
        extensions: Extra members such as ``errors``.
    """
    return Problem(
        status,
        type=STATUS_PROBLEM_TYPES.get(status, "about:blank"),
        detail=detail,
        extensions=extensions,
    )


class ProblemError(HTTPException):
    """An exception that answers the request with a problem document.

    Raise it from an endpoint (the validation helpers do). With
    :func:`hardening.install_problem_handlers`, or with the error guard outside the app,
    the client gets ``problem`` as ``application/problem+json``; without them it is
    still a Starlette ``HTTPException`` with the right status.

    Args:
        problem: The problem to send.
        headers: Extra response headers, for example ``Allow`` or ``Retry-After``.
    """

    def __init__(self, problem: Problem, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(problem.status, detail=problem.detail or problem.title, headers=headers)
        self.problem = problem


_RFC9110_TITLES: Final[Mapping[int, str]] = {
    413: "Content Too Large",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}


def _phrase(status: int) -> str:
    # RFC 9110 names, the same on every Python version (3.13 renamed these phrases).
    if status in _RFC9110_TITLES:
        return _RFC9110_TITLES[status]
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
