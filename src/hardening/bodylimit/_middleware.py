"""Request body size limit: ``413 application/problem+json``, never a 500.

* A ``Content-Length`` over the limit is refused at once, before the app runs and
  before a byte of the body is read (so ``Expect: 100-continue`` clients never send it).
* Every body, chunked or not, is counted as the app reads it. The message that would
  cross the limit is never handed to the app: the app's ``receive()`` gets
  ``http.disconnect`` instead (the client has its answer, so it is gone as far as the
  app is concerned), and the client gets 413 if no response had started.
* The body is never read ahead of the app, so handlers and Sentry that read it work.
* The 413 does not ask the server to close the connection: uvicorn then discards the
  rest of the upload (bounded by its keep-alive timeout) and the client reads its 413
  instead of a connection reset. Nothing beyond the limit is ever held in memory.
* A GET or HEAD over HTTP/1.x with neither ``Content-Length`` nor ``Transfer-Encoding``
  has no body (RFC 9112, 6.3), so it goes through without any wrapper: no cost.
* Per-path overrides: exact paths, route patterns (``/items/{id}/photo``) or prefixes
  (``/uploads/*``); ``null`` means "no limit" on that path.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final

from pydantic import ByteSize, field_validator
from starlette.requests import ClientDisconnect

from hardening._config import LayerConfig
from hardening.checks import Finding
from hardening.problems import Problem, problem_type, send_problem

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from hardening.checks import Check
    from hardening.settings import HardeningSettings

__all__ = ("CHECKS", "DEFAULT_MAX_BYTES", "BodyLimitConfig", "BodyLimitMiddleware")

DEFAULT_MAX_BYTES: Final = 1024 * 1024
"""The default limit: 1 MiB."""

_PRODUCTION_CEILING: Final = 100 * 1024 * 1024
_CLOSE: Final = (b"connection", b"close")
_DISCONNECT: Final = {"type": "http.disconnect"}
_BODILESS_METHODS: Final = frozenset({"GET", "HEAD"})
_FRAMED_VERSIONS: Final = frozenset({"1.0", "1.1"})
_PARAM: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:path)?\}")
_logger = logging.getLogger("hardening.bodylimit")


class BodyLimitConfig(LayerConfig):
    """Limit the size of request bodies, per path if needed."""

    enabled: bool = True
    """Whether this layer is part of the stack (``HARDENING_BODY_LIMIT__ENABLED``)."""

    max_bytes: ByteSize = ByteSize(DEFAULT_MAX_BYTES)
    """The largest request body accepted, in bytes or with a unit (``"10MiB"``, ``"500KB"``)."""

    paths: dict[str, ByteSize | None] = {}
    """Per-path limits that replace ``max_bytes``, as a JSON object in the environment.

    Keys are exact paths (``/login``), route patterns where ``{name}`` matches one path
    segment and ``{name:path}`` the rest (``/items/{id}/photo``), or prefixes ending in
    ``/*`` (``/uploads/*`` matches ``/uploads`` and everything below it). Exact paths and
    patterns win over prefixes; the longest prefix wins. A ``null`` value removes the
    limit on that path."""

    @field_validator("max_bytes")
    @classmethod
    def _check_max_bytes(cls, value: ByteSize) -> ByteSize:
        if value < 1:
            msg = (
                "HARDENING_BODY_LIMIT__MAX_BYTES must be a positive size such as '1MiB'; "
                "to remove the limit set HARDENING_BODY_LIMIT__ENABLED=false"
            )
            raise ValueError(msg)
        return value

    @field_validator("paths")
    @classmethod
    def _check_paths(cls, value: dict[str, ByteSize | None]) -> dict[str, ByteSize | None]:
        for key, limit in value.items():
            if not key.startswith("/"):
                msg = f"HARDENING_BODY_LIMIT__PATHS: key {key!r} must be a path starting with '/', e.g. '/uploads/*'"
                raise ValueError(msg)
            if "*" in key[:-1] or (key.endswith("*") and not key.endswith("/*")):
                msg = f"HARDENING_BODY_LIMIT__PATHS: key {key!r} may only use '*' as a final '/*' (a prefix)"
                raise ValueError(msg)
            if limit is not None and limit < 1:
                msg = f"HARDENING_BODY_LIMIT__PATHS: the limit for {key!r} must be a positive size or null"
                raise ValueError(msg)
        return value

    def build(self, app: ASGIApp, settings: HardeningSettings | None = None) -> ASGIApp:
        """Return ``app`` wrapped in :class:`BodyLimitMiddleware` (or ``app`` when disabled)."""
        return BodyLimitMiddleware(app, self) if self.enabled else app


class _PathLimits:
    """The limit that applies to a path, from the default and the overrides."""

    def __init__(self, default: int, paths: Mapping[str, int | None]) -> None:
        self._default = default
        self._exact: dict[str, int | None] = {}
        self._patterns: list[tuple[re.Pattern[str], int | None]] = []
        prefixes: list[tuple[str, int | None]] = []
        for key, limit in paths.items():
            if key.endswith("/*"):
                prefixes.append((key[:-2], limit))
            elif _PARAM.search(key):
                self._patterns.append((_compile(key), limit))
            else:
                self._exact[key] = limit
        self._prefixes = sorted(prefixes, key=lambda item: len(item[0]), reverse=True)

    def __call__(self, path: str) -> int | None:
        if path in self._exact:
            return self._exact[path]
        for pattern, limit in self._patterns:
            if pattern.fullmatch(path):
                return limit
        for prefix, limit in self._prefixes:
            if path == prefix or path.startswith(prefix + "/") or not prefix:
                return limit
        return self._default


def _compile(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    position = 0
    for match in _PARAM.finditer(pattern):
        out.append(re.escape(pattern[position : match.start()]))
        out.append(".+" if match.group(2) else "[^/]+")
        position = match.end()
    out.append(re.escape(pattern[position:]))
    return re.compile("".join(out))


def _too_large(limit: int) -> Problem:
    return Problem(
        413,
        type=problem_type("body-too-large"),
        detail=f"The request body is larger than the {limit} bytes accepted here.",
        extensions={"max_bytes": limit},
    )


def _parse_content_length(value: bytes) -> int | None:
    text = value.strip()
    if not text or not text.isdigit() or len(text) > 19:
        return None
    return int(text)


class BodyLimitMiddleware:
    """Pure ASGI middleware that refuses request bodies over the limit with 413.

    Args:
        app: The ASGI app to wrap.
        config: The limits; defaults to :class:`BodyLimitConfig` (1 MiB everywhere).
    """

    def __init__(self, app: ASGIApp, config: BodyLimitConfig | None = None) -> None:
        config = config or BodyLimitConfig()
        self.app = app
        self._limit_for = _PathLimits(
            int(config.max_bytes), {k: None if v is None else int(v) for k, v in config.paths.items()}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check ``Content-Length``, then count the body as the app reads it."""
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
        limit = self._limit_for(path if isinstance(path, str) else "")
        if limit is None:
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
            if length > limit:
                await send_problem(scope, send, _too_large(limit))
                return

        received = 0
        response_started = False
        answered = False  # we sent the 413; the app's own response is dropped

        async def limited_receive() -> Message:
            nonlocal received, answered
            if received > limit:
                return dict(_DISCONNECT)
            message = await receive()
            if message["type"] != "http.request":
                return message
            received += len(message.get("body", b""))
            if received <= limit:
                return message
            if not response_started:
                answered = True
                await send_problem(scope, send, _too_large(limit))
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
            _logger.debug("the app stopped reading after the body limit was exceeded")


def _limit_findings(settings: HardeningSettings) -> Iterable[Finding]:
    if settings.environment != "production":
        return
    config = settings.body_limit
    if not config.enabled:
        yield Finding(
            id="HARDENING-BODY-001",
            severity="warning",
            message="The request body limit is disabled: any client can send bodies of any size.",
            hint="Enable it (the default is 1 MiB) and raise the limit only on the paths that need it.",
            setting="body_limit.enabled",
            env_var="HARDENING_BODY_LIMIT__ENABLED",
        )
        return
    if config.max_bytes > _PRODUCTION_CEILING:
        yield Finding(
            id="HARDENING-BODY-002",
            severity="warning",
            message=f"The default request body limit is {config.max_bytes.human_readable()}, over 100 MiB.",
            hint="Keep the default small and raise it per path with body_limit.paths.",
            setting="body_limit.max_bytes",
            env_var="HARDENING_BODY_LIMIT__MAX_BYTES",
        )
    for key, limit in config.paths.items():
        if limit is None or limit > _PRODUCTION_CEILING:
            size = "no limit" if limit is None else limit.human_readable()
            yield Finding(
                id="HARDENING-BODY-003",
                severity="info",
                message=f"Request bodies on {key!r} are limited to: {size}.",
                hint="Make sure that endpoint streams the body instead of loading it into memory.",
                setting="body_limit.paths",
                env_var="HARDENING_BODY_LIMIT__PATHS",
            )


CHECKS: tuple[Check, ...] = (_limit_findings,)
"""Production rules: HARDENING-BODY-001 (limit disabled), -002 (default over 100 MiB),
-003 (a path with no limit or one over 100 MiB)."""
