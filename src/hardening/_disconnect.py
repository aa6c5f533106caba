"""What counts as a client that went away: never an error of the app.

Three things mean the client left: Starlette's :class:`~starlette.requests.ClientDisconnect`
(raised when the app reads a body after an ``http.disconnect``), an ``http.disconnect``
received before the response, and an :class:`OSError` raised by the server's ``send``.
The error guard marks the last one on the exception itself (an ``OSError`` the app raises
on its own, say a refused database connection, stays an error), so every layer and the
Sentry hook that sees the exception later can tell, without a second registry.
"""

from __future__ import annotations

import contextlib
from typing import Final

from starlette.requests import ClientDisconnect

__all__ = ("CLIENT_CLOSED_REQUEST", "is_client_gone", "mark_client_gone")

CLIENT_CLOSED_REQUEST: Final = 499
"""The status logged and counted when the client left before any response (nginx's 499)."""

_MARK: Final = "_hardening_client_gone"


def mark_client_gone(exc: BaseException) -> None:
    """Mark ``exc`` (raised by the server's ``send``) as "the client went away"."""
    with contextlib.suppress(AttributeError):  # a type without a __dict__: nothing to mark
        setattr(exc, _MARK, True)


def is_client_gone(exc: BaseException | None) -> bool:
    """Whether ``exc`` means the client went away (not a fault of the app)."""
    if exc is None:
        return False
    return isinstance(exc, ClientDisconnect) or getattr(exc, _MARK, False) is True
