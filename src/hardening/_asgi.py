"""Small helpers shared by the pure ASGI middleware of ``hardening``.

Headers are handled as raw ``(name, value)`` byte pairs, as ASGI sends them: names are
lower-case ``bytes``. Nothing here allocates more than the edit it makes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = (
    "CLIENT_IP_STATE_KEY",
    "ERROR_RESPONSE_EDITORS_KEY",
    "HTTP_SCOPES",
    "REQUEST_ID_STATE_KEY",
    "SCHEME_STATE_KEY",
    "ASGIApp",
    "Message",
    "RawHeaders",
    "Receive",
    "Scope",
    "Send",
    "add_error_response_editor",
    "apply_error_response_editors",
    "get_header",
    "on_response_start",
    "remove_headers",
    "request_id_of",
    "scope_state",
    "set_header",
)

RawHeaders = list[tuple[bytes, bytes]]
"""ASGI headers: a list of ``(lower-case name, value)`` byte pairs."""

HTTP_SCOPES: Final = frozenset({"http"})
"""Scope types that carry HTTP requests and responses."""

REQUEST_ID_STATE_KEY: Final = "request_id"
"""Key under ``scope["state"]`` where the request-ID layer stores the request's ID."""

CLIENT_IP_STATE_KEY: Final = "hardening.client_ip"
"""Key under ``scope["state"]`` of ``(resolver, address)``: the client address a
:class:`~hardening.ClientResolver` resolved for this request, kept for every layer."""

SCHEME_STATE_KEY: Final = "hardening.scheme"
"""Key under ``scope["state"]`` of ``(resolver, scheme)``, kept like the client address."""


def get_header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """Return the first value of header ``name`` (lower-case bytes), or ``None``."""
    for key, value in headers:
        if key == name:
            return value
    return None


def set_header(message: Message, name: bytes, value: bytes, *, replace: bool = True) -> None:
    """Set header ``name`` on an ``http.response.start`` message.

    With ``replace`` (the default) every existing value of the header is dropped first,
    so the header is never duplicated. With ``replace=False`` a header the app already
    set is kept and ``value`` is not added.
    """
    current = message.get("headers", ())
    for key, _ in current:
        if key == name:
            if not replace:
                return
            headers: RawHeaders = [(key, val) for key, val in current if key != name]
            break
    else:
        headers = list(current)
    headers.append((name, value))
    message["headers"] = headers


def remove_headers(message: Message, names: frozenset[bytes]) -> None:
    """Drop every header whose lower-case name is in ``names`` from a response start."""
    headers = message.get("headers")
    if headers:
        message["headers"] = [(key, val) for key, val in headers if key not in names]


def on_response_start(send: Send, edit: Callable[[Message], None]) -> Send:
    """Wrap ``send`` so that ``edit`` can change the ``http.response.start`` message.

    ``edit`` is called once, with the mutable message, before it is passed on.
    """

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            edit(message)
        await send(message)

    return wrapped


def scope_state(scope: Scope) -> dict[str, Any]:
    """Return the per-request ``scope["state"]`` dict, creating it when absent.

    Starlette exposes it as ``request.state``; uvicorn gives every request its own copy.
    """
    state: dict[str, Any] | None = scope.get("state")
    if state is None:
        state = {}
        scope["state"] = state
    return state


def request_id_of(scope: Scope) -> str | None:
    """Return the request ID the request-ID layer assigned to this request, if any."""
    state = scope.get("state")
    if state is None:
        return None
    value = state.get(REQUEST_ID_STATE_KEY)
    return value if isinstance(value, str) else None


ERROR_RESPONSE_EDITORS_KEY: Final = "hardening.error_response_editors"
"""Key under ``scope["state"]`` of the edits to apply to a response sent by an outer layer."""


def add_error_response_editor(scope: Scope, edit: Callable[[Message], None]) -> None:
    """Ask the outer layer that answers an unhandled exception to apply ``edit``.

    A layer that decorates responses (CORS, security headers) registers its edit when an
    exception escapes the app before the response started, then re-raises. The error
    guard, which sits outside it, calls :func:`apply_error_response_editors` on the
    ``http.response.start`` of its 500, so that 500 carries the same headers as any other
    response would have.
    """
    scope_state(scope).setdefault(ERROR_RESPONSE_EDITORS_KEY, []).append(edit)


def apply_error_response_editors(scope: Scope, message: Message) -> None:
    """Apply the edits registered with :func:`add_error_response_editor`, innermost first."""
    state = scope.get("state")
    if not state:
        return
    for edit in state.get(ERROR_RESPONSE_EDITORS_KEY, ()):
        edit(message)


Responder = Callable[[Scope, Receive, Send], Awaitable[None]]
"""Alias of an ASGI callable used for early answers."""

_ = ASGIApp  # re-exported for layer modules
