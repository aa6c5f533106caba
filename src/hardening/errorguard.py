"""The error guard: any exception inside becomes a problem+json 500, logged once.

The guard wraps the whole app, outside Starlette's own ``ServerErrorMiddleware``, so a
500 still passes through the request-ID, security-header and CORS layers. It:

* answers ``500 application/problem+json`` with the request ID and no exception text or
  traceback (development may show the exception type and a redacted message);
* logs the exception once, with its traceback, on the stdlib logger ``hardening.errors``
  (the logging set-up routes it through the shared redaction policy);
* reports it to Sentry when the Sentry SDK has been initialised;
* replaces a framework's own 500 answer (Starlette's plain text or debug page) when the
  framework re-raises the exception after sending it;
* treats a client that went away (Starlette's ``ClientDisconnect``, an ``OSError`` from
  the server's ``send``) as no error: a DEBUG line, no answer, no Sentry event;
* when the response had already started, sends nothing more and returns: the server then
  closes the connection, so the client sees a truncated response, not a complete-looking
  one, and no second ``http.response.start`` is ever sent.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from starlette.exceptions import HTTPException

from hardening._asgi import apply_error_response_editors, on_response_start, request_id_of
from hardening._config import LayerConfig
from hardening._context import LayerContext
from hardening._disconnect import is_client_gone, mark_client_gone
from hardening._environments import is_deployed
from hardening.findings import Finding, finding
from hardening.problems import Problem, ProblemError, problem_for_status, send_problem
from hardening.redaction import redact_text

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from hardening.findings import Rule, RuleInput

__all__ = ("CHECKS", "ERROR_LOGGER_NAME", "INTERNAL_ERROR_DETAIL", "ErrorGuardConfig", "ErrorGuardMiddleware")

ERROR_LOGGER_NAME: Final = "hardening.errors"
"""The stdlib logger unhandled exceptions are logged on."""

_logger = logging.getLogger(ERROR_LOGGER_NAME)
_MAX_HELD_BYTES: Final = 256 * 1024
_SERVER_ERROR: Final = 500
INTERNAL_ERROR_DETAIL: Final = "The server hit an unexpected error. Quote the request ID when reporting it."
"""The `detail` of a 500 problem outside development."""


class ErrorGuardConfig(LayerConfig):
    """The error guard: exceptions become problem+json 500s with the request ID."""

    enabled: bool = True
    """Whether this layer is part of the stack (``HARDENING_ERRORS__ENABLED``)."""

    replace_framework_500: bool = True
    """Replace a 500 the app already answered when the app then re-raises the exception.

    Starlette and FastAPI send their own 500 (plain text, or a traceback page with
    ``debug=True``) and re-raise; the guard holds a 500 answer (up to 256 KiB) until the
    app returns so it can send a problem document instead. Off in development, so the
    framework's debug page still shows there."""

    report_to_sentry: bool = True
    """Report unhandled exceptions to Sentry when the Sentry SDK is initialised."""

    show_details_in_development: bool = True
    """In the ``development`` environment, put the exception type and its redacted
    message in the problem's ``detail``. Never outside development."""


class ErrorGuardMiddleware:
    """Pure ASGI middleware that turns any exception from the app into a safe 500.

    Args:
        app: The ASGI app to guard.
        config: The guard's settings; defaults to :class:`ErrorGuardConfig`.
        context: The stack's shared context; in the ``development`` environment details
            may be shown (alone: production).
    """

    def __init__(
        self, app: ASGIApp, config: ErrorGuardConfig | None = None, *, context: LayerContext | None = None
    ) -> None:
        config = config or ErrorGuardConfig()
        development = context is not None and context.environment == "development"
        self.app = app
        self._show_details = development and config.show_details_in_development
        self._hold_500 = config.replace_framework_500 and not development
        self._report = config.report_to_sentry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; answer or close cleanly when it raises."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False  # a start message reached the client
        held: list[Message] | None = None  # a 500 answer held back until the app returns
        held_bytes = 0
        gone: OSError | None = None  # the server's send failed: the client went away
        hold_500 = self._hold_500

        async def guarded_send(message: Message) -> None:
            # One closure per request; the rare held 500 needs no other.
            nonlocal started, held, held_bytes, gone
            try:
                if not started and message["type"] == "http.response.start":
                    if hold_500 and message.get("status") == _SERVER_ERROR:
                        held = [message]
                        return
                    started = True
                elif held is not None:
                    held.append(message)
                    held_bytes += len(message.get("body", b""))
                    if held_bytes <= _MAX_HELD_BYTES:
                        return
                    # Too large to hold: send what is held; the rest goes straight through.
                    messages, held, started = held, None, True
                    await _send_all(send, messages)
                    return
                await send(message)
            except OSError as exc:  # only the server's send raises it: the client went away
                mark_client_gone(exc)  # before the layers and Sentry inside see it
                gone = exc
                raise

        try:
            await self.app(scope, receive, guarded_send)
        except Exception as exc:
            held = None
            if exc is gone or is_client_gone(exc):
                # The client went away (its send failed, or the app read the body after
                # an http.disconnect): not a fault of the app, so nothing to answer (no
                # one is listening), no ERROR line and no Sentry event.
                _logger.debug(
                    "the client went away; nothing more is sent (%s)",
                    type(exc).__name__,
                    extra={"request_id": request_id_of(scope)},
                )
                return
            await self._handle(exc, scope, send, started=started)
        else:
            if held is not None:
                messages, held, started = held, None, True
                await _send_all(send, messages)

    async def _handle(self, exc: Exception, scope: Scope, send: Send, *, started: bool) -> None:
        try:
            problem, headers = self._problem_for(exc)
            problem.body()  # an extension that is not JSON must not break the answer
        except Exception:
            problem, headers = problem_for_status(_SERVER_ERROR, detail=INTERNAL_ERROR_DETAIL), []
        if problem.status >= _SERVER_ERROR:
            _log_and_report(exc, scope, started=started, report=self._report)
        if started:
            return  # the server closes the connection: the client sees a truncated response
        try:
            # Layers inside (CORS, security headers) registered their header edits when
            # the exception passed through them: this 500 carries the same headers.
            decorated = on_response_start(send, lambda message: apply_error_response_editors(scope, message))
            await send_problem(scope, decorated, problem, headers=headers)
        except Exception:
            _logger.debug("could not send the error response; the client is gone")

    def _problem_for(self, exc: Exception) -> tuple[Problem, list[tuple[bytes, bytes]]]:
        if isinstance(exc, HTTPException):
            headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (exc.headers or {}).items()]
            if isinstance(exc, ProblemError):
                return Problem(
                    exc.problem.status,
                    type=exc.problem.type,
                    title=exc.problem.title,
                    detail=exc.problem.detail,
                    instance=exc.problem.instance,
                    extensions=exc.problem.extensions,
                ), headers
            detail = exc.detail if isinstance(exc.detail, str) and exc.status_code < _SERVER_ERROR else None
            return problem_for_status(exc.status_code, detail=detail), headers
        detail = INTERNAL_ERROR_DETAIL
        if self._show_details:
            detail = redact_text(f"{type(exc).__name__}: {exc}")
        return problem_for_status(_SERVER_ERROR, detail=detail), []


async def _send_all(send: Send, messages: list[Message]) -> None:
    """Send ``messages`` in order (a held response, released)."""
    for message in messages:
        await send(message)


def _log_and_report(exc: BaseException, scope: Scope, *, started: bool, report: bool) -> None:
    """Log ``exc`` once with its traceback and hand it to Sentry when Sentry is active.

    The record carries ``exc_info`` (for structured handlers, which redact it themselves)
    and an already redacted ``exc_text``, which plain ``logging.Formatter`` handlers print
    instead of formatting the traceback again: the line is redacted even when the app
    never called :func:`hardening.logs.configure_logging`.
    """
    if _logger.isEnabledFor(logging.ERROR):
        path = scope.get("path", "")
        record = _logger.makeRecord(
            _logger.name,
            logging.ERROR,
            __file__,
            0,
            "Unhandled exception in ASGI application: %s %s",
            (scope.get("method", ""), redact_text(path) if isinstance(path, str) else ""),
            (type(exc), exc, exc.__traceback__),
            func="_log_and_report",
            extra={"request_id": request_id_of(scope), "response_started": started},
        )
        record.exc_text = redact_text("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip())
        _logger.handle(record)
    if report:
        _report_to_sentry(exc)


def _report_to_sentry(exc: BaseException) -> None:
    # An initialised SDK is always imported already, so never import it here.
    sentry_sdk = sys.modules.get("sentry_sdk")
    if sentry_sdk is None:
        return
    try:
        if sentry_sdk.get_client().is_active():
            sentry_sdk.capture_exception(exc)
    except Exception:
        _logger.debug("reporting to Sentry failed", exc_info=True)


def _guard_findings(settings: RuleInput) -> Iterable[Finding]:
    if is_deployed(settings.environment) and not settings.errors.enabled:
        yield finding(
            "HARDENING-ERRORS-001",
            "warning",
            "errors.enabled",
            (
                "The error guard is disabled: an unhandled exception is answered by the framework or "
                "the server (plain text, or a traceback page with debug=True) without the request ID."
            ),
            "Enable it; it is on by default.",
        )


CHECKS: tuple[Rule, ...] = (_guard_findings,)
"""Production rules: HARDENING-ERRORS-001 (error guard disabled)."""
