"""Redirect plain HTTP to HTTPS, without loops behind a TLS-terminating proxy.

:class:`HTTPSRedirectMiddleware` answers a request the client made over plain HTTP with
a permanent redirect to the same host, path and query over HTTPS: ``301`` for ``GET`` and
``HEAD``, ``308`` for every other method (so a ``POST`` stays a ``POST`` with its body).

The scheme is the one the *client* used: behind a proxy that terminates TLS, the
``X-Forwarded-Proto`` header is believed only from the trusted proxies of
:class:`hardening.clientip.ProxyConfig` (``HARDENING_PROXY__TRUSTED_PROXIES``), the same
rule the rest of ``hardening`` uses. Health probes and ACME challenges are exempt.
A plain ``ws://`` websocket is closed (code 1008) instead, since it cannot be redirected.

Off by default: most deployments redirect at the load balancer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

from pydantic import Field, field_validator

from hardening._asgi import get_header
from hardening._config import LayerConfig
from hardening._context import LayerContext
from hardening._environments import is_deployed
from hardening._paths import HEALTH_PROBE_PATHS, PathPrefixes, check_path_prefixes
from hardening.findings import Finding, finding
from hardening.hosts import parse_host
from hardening.problems import Problem, problem_type, send_problem

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from hardening.findings import Rule, RuleInput

__all__ = ("CHECKS", "HTTPSRedirectConfig", "HTTPSRedirectMiddleware")

_SECURE: Final = frozenset({"https", "wss"})


class HTTPSRedirectConfig(LayerConfig):
    """Redirect requests made over plain HTTP to HTTPS."""

    enabled: bool = False
    """Whether this layer is part of the stack (off by default: the load balancer
    usually redirects)."""

    exempt_paths: tuple[str, ...] = (*HEALTH_PROBE_PATHS, "/.well-known/acme-challenge/")
    """Path prefixes served over plain HTTP too (matched on ``scope["path"]``): probes
    and ACME HTTP-01 challenges."""

    https_port: int | None = Field(default=None, ge=1, le=65535)
    """Port of the HTTPS site. ``None`` keeps the request's port (dropping ``:80``);
    ``443`` gives URLs without a port."""

    @field_validator("exempt_paths")
    @classmethod
    def _check_paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_path_prefixes(value)


class HTTPSRedirectMiddleware:
    """Pure ASGI middleware redirecting plain-HTTP requests to HTTPS.

    Args:
        app: The ASGI app to wrap.
        config: The redirect settings.
        context: The stack's shared context: its client resolver gives the scheme (behind
            the trusted proxies whose ``X-Forwarded-Proto`` is believed).
    """

    def __init__(
        self, app: ASGIApp, config: HTTPSRedirectConfig | None = None, *, context: LayerContext | None = None
    ) -> None:
        config = config or HTTPSRedirectConfig(enabled=True)
        self.app = app
        self._exempt = PathPrefixes(config.exempt_paths)
        self._resolver = (context or LayerContext()).resolver
        self._port = config.https_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Redirect a plain-HTTP request; pass HTTPS and exempt requests to the app."""
        if (
            scope["type"] not in ("http", "websocket")
            or self._resolver.scheme(scope) in _SECURE
            or self._exempt.matches(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "Use wss://"})
            return
        location = self._location(scope)
        if location is None:
            problem = Problem(
                400,
                type=problem_type("invalid-host"),
                title="Invalid host header",
                detail="Plain HTTP is not served and the Host header is missing or malformed.",
            )
            await send_problem(scope, send, problem)
            return
        status = 301 if scope["method"] in ("GET", "HEAD") else 308
        headers = [(b"location", location), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    def _location(self, scope: Scope) -> bytes | None:
        parsed = parse_host(get_header(scope["headers"], b"host"))
        if parsed is None:
            return None
        host, port = parsed
        if self._port is not None:
            port = self._port
        if port in (80, 443):
            port = None
        authority = host if port is None else f"{host}:{port}"
        raw_path: bytes | None = scope.get("raw_path")
        path = raw_path if raw_path else quote(scope["path"], safe="/:@!$&'()*+,;=-._~").encode("ascii")
        query: bytes = scope.get("query_string", b"")
        target = b"https://" + authority.encode("ascii") + path
        if query:
            target += b"?" + query
        return target


# --- production rules -------------------------------------------------------------------


def _check_redirect(settings: RuleInput) -> Iterable[Finding]:
    if not is_deployed(settings.environment):
        return
    redirect = settings.https_redirect
    if redirect.enabled and not settings.proxy.trusted_proxies:
        yield finding(
            "HARDENING-HTTPS-001",
            "warning",
            "https_redirect.enabled",
            (
                "The HTTPS redirect is on but no trusted proxy is configured: behind a proxy "
                "that terminates TLS every request looks like plain HTTP and redirects forever."
            ),
            (
                "List the proxy networks in HARDENING_PROXY__TRUSTED_PROXIES, or leave the "
                "redirect to the load balancer."
            ),
        )


CHECKS: tuple[Rule, ...] = (_check_redirect,)
"""Production rules of the HTTPS redirect (``HARDENING-HTTPS-001``)."""
