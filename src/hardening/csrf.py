"""Token-less CSRF protection from Fetch Metadata.

The model is Go 1.25's ``net/http.CrossOriginProtection``. Browsers label every request
with where it came from. :class:`CSRFMiddleware` refuses state-changing requests
(anything but ``GET``, ``HEAD``, ``OPTIONS`` and ``TRACE``) that a browser made on
behalf of another site:

1. safe methods always pass;
2. a trusted origin (listed, or allowed by the CORS config) or an exempt path passes;
3. ``Sec-Fetch-Site: same-origin`` or ``none`` (typed URL, bookmark) passes, any other
   value (``cross-site``, ``same-site``) is refused;
4. without ``Sec-Fetch-Site`` (browsers before 2023), an ``Origin`` whose scheme, host
   and port equal the request's own passes; another one is refused;
5. a request with neither header is not from a browser and passes.

There is no token, no cookie and no form field to add. A refusal is a 403 problem+json.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from pydantic import field_validator

from hardening._config import LayerConfig
from hardening._context import LayerContext
from hardening._environments import is_deployed
from hardening._paths import PathPrefixes, check_path_prefixes
from hardening.cors._config import CORSConfig
from hardening.cors._origins import DEFAULT_PORTS, OriginMatcher, normalise_origin_entry, parse_origin
from hardening.findings import Finding, finding
from hardening.hosts import parse_host
from hardening.problems import Problem, problem_type, send_problem

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from hardening.findings import Rule, RuleInput

__all__ = ("CHECKS", "SAFE_METHODS", "CSRFConfig", "CSRFMiddleware")

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
"""Methods that must not change state and are never checked."""


class CSRFConfig(LayerConfig):
    """Cross-site request forgery protection from ``Sec-Fetch-Site`` and ``Origin``.

    Enabled by default: it refuses only what browsers mark as cross-site, so API
    clients, server-to-server calls and same-origin pages are not affected.
    """

    trusted_origins: tuple[str, ...] = ()
    """Origins allowed to send state-changing requests from the browser, for example
    ``https://admin.example.com`` or ``https://*.example.com``."""

    trust_cors_origins: bool = True
    """Also trust the origins the CORS config allows by name, pattern or regex (never its
    ``*`` wildcard or ``null``), so allowed cross-origin front ends keep working."""

    exempt_paths: tuple[str, ...] = ()
    """Path prefixes never checked (matched on ``scope["path"]``), for example a SAML
    assertion consumer that receives cross-site form posts."""

    @field_validator("trusted_origins")
    @classmethod
    def _normalise_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        result: list[str] = []
        for item in value:
            normal = normalise_origin_entry(item)
            if normal is None or normal in ("*", "null"):
                msg = (
                    f"{item!r} is not an origin. Expected "
                    "scheme://host[:port] with no path or trailing slash, for example "
                    "'https://admin.example.com' or 'https://*.example.com'."
                )
                raise ValueError(msg)
            result.append(normal)
        return tuple(result)

    @field_validator("exempt_paths")
    @classmethod
    def _check_paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_path_prefixes(value)


def _cors_matcher(cors: CORSConfig) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not cors.enabled:
        return (), ()
    origins = list(cors.allow_origins)
    regexes = list(cors.allow_origin_regex)
    for rule in cors.rules:
        origins.extend(rule.allow_origins)
        regexes.extend(rule.allow_origin_regex)
    return tuple(o for o in origins if o not in ("*", "null")), tuple(regexes)


class CSRFMiddleware:
    """Pure ASGI middleware refusing cross-site state-changing browser requests.

    Args:
        app: The ASGI app to wrap.
        config: The CSRF settings.
        context: The stack's shared context: its client resolver gives the scheme the
            client used, and the named origins of its ``cors`` config are trusted too
            (when ``config.trust_cors_origins``).
    """

    def __init__(self, app: ASGIApp, config: CSRFConfig | None = None, *, context: LayerContext | None = None) -> None:
        config = config or CSRFConfig()
        context = context or LayerContext()
        cors = context.config("cors", CORSConfig)
        self.app = app
        origins, regexes = _cors_matcher(cors) if cors is not None and config.trust_cors_origins else ((), ())
        self._trusted = OriginMatcher((*config.trusted_origins, *origins), tuple(re.compile(item) for item in regexes))
        self._exempt = PathPrefixes(config.exempt_paths)
        self._resolver = context.resolver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a cross-site unsafe request; pass everything else to the app."""
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        problem = Problem(
            403,
            type=problem_type("cross-origin-request-rejected"),
            title="Cross-origin request rejected",
            detail="A state-changing request from another site was refused (CSRF protection).",
        )
        await send_problem(scope, send, problem)

    def _allowed(self, scope: Scope) -> bool:
        fetch_site: bytes | None = None
        origin: bytes | None = None
        host: bytes | None = None
        for key, value in scope["headers"]:
            if key == b"sec-fetch-site":
                fetch_site = value
            elif key == b"origin":
                origin = value
            elif key == b"host":
                host = value
        if fetch_site is not None:
            if fetch_site in (b"same-origin", b"none"):
                return True
            return self._exempt_request(scope, origin)
        if origin is None:
            return True  # neither header: not a browser, or a same-origin request
        if self._same_origin(scope, origin, host):
            return True
        return self._exempt_request(scope, origin)

    def _exempt_request(self, scope: Scope, origin: bytes | None) -> bool:
        if self._exempt.matches(scope["path"]):
            return True
        return origin is not None and self._trusted.matches(origin.decode("latin-1"))

    def _same_origin(self, scope: Scope, origin: bytes, host: bytes | None) -> bool:
        parsed = parse_origin(origin.decode("latin-1"))
        target = parse_host(host)
        if parsed is None or target is None:
            return False
        scheme = self._resolver.scheme(scope)
        scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
        target_host, target_port = target
        return (
            parsed.scheme == scheme
            and parsed.host == target_host
            and parsed.effective_port() == (target_port or DEFAULT_PORTS.get(scheme))
        )


# --- production rules -------------------------------------------------------------------


def _check_csrf(settings: RuleInput) -> Iterable[Finding]:
    if not is_deployed(settings.environment) or settings.csrf.enabled:
        return
    yield finding(
        "HARDENING-CSRF-001",
        "warning",
        "csrf.enabled",
        "CSRF protection is off: other sites can make browsers send state-changing requests.",
        "Set HARDENING_CSRF__ENABLED=true (exempt specific paths with HARDENING_CSRF__EXEMPT_PATHS).",
    )


CHECKS: tuple[Rule, ...] = (_check_csrf,)
"""Production rules of the CSRF layer (``HARDENING-CSRF-001``)."""
