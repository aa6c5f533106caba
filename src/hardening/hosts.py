"""Trusted hosts: refuse requests whose ``Host`` header names a host this service is not.

A forged ``Host`` poisons password-reset links, cache keys and absolute redirects. The
:class:`TrustedHostMiddleware` checks the ``Host`` header of every HTTP and websocket
request against :attr:`TrustedHostConfig.allowed_hosts` before the app runs:

* exact hosts (``api.example.com``) and leading-label wildcards (``*.example.com``,
  which match any subdomain but not the apex);
* an entry without a port matches any port; ``example.com:8443`` matches only that port;
* IPv4 and IPv6 literals (``[::1]``, or ``::1`` in the config);
* a missing, repeated or malformed ``Host`` is refused (strict RFC 9110 grammar);
* the health probe paths are exempt, matched on ``scope["path"]``, because Kubernetes
  and load-balancer probes send the pod IP as ``Host``.

A refused HTTP request gets a 400 problem+json; a refused websocket is closed with code
1008 before it is accepted.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from pydantic import field_validator

from hardening._config import LayerConfig
from hardening._context import LayerContext
from hardening._environments import is_deployed
from hardening._paths import HEALTH_PROBE_PATHS, ProbePaths, check_path_prefixes
from hardening.cors._origins import DEFAULT_PORTS, valid_bracketed_host, wildcard_base_problem
from hardening.findings import Finding, finding
from hardening.problems import Problem, problem_type, send_problem

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from hardening.findings import Rule, RuleInput

__all__ = ("CHECKS", "DEVELOPMENT_HOSTS", "TrustedHostConfig", "TrustedHostMiddleware", "parse_host")

logger = logging.getLogger("hardening.hosts")

DEVELOPMENT_HOSTS: Final = ("localhost", "127.0.0.1", "[::1]", "testserver")
"""Hosts allowed in the ``development`` and ``test`` environments when none are listed."""

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_HOST_RE: Final = re.compile(rf"(?P<host>\[[0-9a-f:.]+\]|{_LABEL}(?:\.{_LABEL})*\.?)(?::(?P<port>[0-9]{{1,5}}))?")


def parse_host(value: str | bytes | None) -> tuple[str, int | None] | None:
    """Parse a ``Host`` header value into ``(host, port)``; ``None`` when absent or malformed.

    The value may be the raw header (bytes, which must be ASCII). The host is lower-cased
    and loses a trailing dot; IPv6 literals keep their brackets.
    """
    if isinstance(value, bytes):
        value = value.decode("ascii") if value.isascii() else None
    if value is None:
        return None
    match = _HOST_RE.fullmatch(value.lower())
    if match is None:
        return None
    host, raw_port = match.group("host", "port")
    if not valid_bracketed_host(host):
        return None
    port = None if raw_port is None else int(raw_port)
    if port is not None and port > 65535:  # the largest TCP port
        return None
    return host.rstrip("."), port


_ENTRY_FORMS: Final = (
    "An entry may be a host name ('api.example.com'), an IP address ('10.0.0.5', '::1' or "
    "'[::1]'), '*.' and a registrable domain or a special-use name for their subdomains "
    "('*.example.com', '*.localhost', '*.internal'), any of these with ':port' "
    "('example.com:8443', '[::1]:8000'), or '*' alone (any host; never in production)."
)


def _normalise_entry(entry: str) -> str | None:
    value = entry.strip().lower()
    if value == "*":
        return value
    wildcard = value.startswith("*.")
    rest = value[2:] if wildcard else value
    if not wildcard and ":" in rest and not rest.startswith("["):
        try:  # a bare IPv6 literal such as ::1
            return f"[{ipaddress.IPv6Address(rest).compressed}]"
        except ValueError:
            pass
    parsed = parse_host(rest)
    if parsed is None or (wildcard and rest.startswith("[")):
        return None
    host, port = parsed
    if host.startswith("["):
        host = f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
    return ("*." if wildcard else "") + host + ("" if port is None else f":{port}")


class TrustedHostConfig(LayerConfig):
    """Which ``Host`` header values the service answers.

    Enabled by default. With ``allowed_hosts`` empty, the ``development`` and ``test``
    environments allow :data:`DEVELOPMENT_HOSTS`; any other environment refuses every
    request (except the exempt paths) and production rule ``HARDENING-HOST-001`` fails.
    """

    allowed_hosts: tuple[str, ...] = ()
    """Hosts this service answers: ``api.example.com``, ``*.example.com`` (subdomains
    only; the base must be a registrable domain, judged with the Public Suffix List, or
    a special-use name such as ``*.localhost``, ``*.internal``, ``*.svc.cluster.local``),
    ``example.com:8443`` (that port only), IP literals such as ``10.0.0.5`` or
    ``[::1]``, or ``*`` (any host; never in production)."""

    exempt_paths: tuple[str, ...] = HEALTH_PROBE_PATHS
    """Paths answered whatever the ``Host`` (matched on ``scope["path"]``): probes send
    the pod IP as ``Host``. Matched as the health layer matches its paths: exactly (a
    trailing ``/`` aside), never their sub-paths; an entry ending in ``/`` covers what
    is below it."""

    @field_validator("allowed_hosts")
    @classmethod
    def _normalise_hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        result: list[str] = []
        for item in value:
            normal = _normalise_entry(item)
            if normal is None:
                raise ValueError(f"{item!r} is not a host pattern. {_ENTRY_FORMS}")
            if normal.startswith("*."):
                problem = wildcard_base_problem(normal[2:].split(":", 1)[0])
                if problem is not None:
                    raise ValueError(f"{problem}. {_ENTRY_FORMS}")
            if normal not in result:
                result.append(normal)
        return tuple(result)

    @field_validator("exempt_paths")
    @classmethod
    def _check_paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_path_prefixes(value)

    def effective_hosts(self, environment: str = "production") -> tuple[str, ...]:
        """Return the hosts allowed in ``environment`` (the development defaults if empty)."""
        if not self.allowed_hosts and not is_deployed(environment):
            return DEVELOPMENT_HOSTS
        return self.allowed_hosts


class TrustedHostMiddleware:
    """Pure ASGI middleware that refuses requests for hosts not in the allow-list.

    Args:
        app: The ASGI app to wrap.
        config: The trusted-host settings.
        context: The stack's shared context. Its environment ``development`` or ``test``
            allows the local development hosts when ``allowed_hosts`` is empty; alone,
            the environment counts as production.
    """

    def __init__(
        self, app: ASGIApp, config: TrustedHostConfig | None = None, *, context: LayerContext | None = None
    ) -> None:
        config = config or TrustedHostConfig()
        environment = context.environment if context is not None else "production"
        self.app = app
        hosts = config.effective_hosts(environment)
        self.allowed_hosts: tuple[str, ...] = hosts
        """The hosts answered in this environment (read by ``hardening audit`` for its ``Host``)."""
        self._allow_all = "*" in hosts
        exact: dict[str, set[int] | None] = {}
        wildcards: list[tuple[str, int | None]] = []
        for entry in hosts:
            if entry == "*":
                continue
            wildcard = entry.startswith("*.")
            parsed = parse_host(entry[2:] if wildcard else entry)
            if parsed is None:  # pragma: no cover - entries were normalised by the config
                continue
            host, port = parsed
            if wildcard:
                host = "*." + host
            if host.startswith("*."):
                wildcards.append((host[1:], port))
            elif port is None:
                exact[host] = None
            else:
                ports = exact.setdefault(host, set())
                if ports is not None:
                    ports.add(port)
        self._exact = exact
        self._wildcards = tuple(wildcards)
        self._exempt = ProbePaths(config.exempt_paths)
        # A server sees few distinct Host values: decide each (value, scheme) once.
        self._is_allowed_cached = lru_cache(maxsize=1024)(self.is_allowed)
        if not hosts:
            logger.warning(
                "TrustedHostMiddleware refuses every request: allowed_hosts is empty. List the "
                "hosts this service answers, for example '[\"api.example.com\"]'."
            )

    def is_allowed(self, value: bytes | None, scheme: str = "http") -> bool:
        """Return whether a raw ``Host`` header value names an allowed host."""
        parsed = parse_host(value)
        if parsed is None:
            return False
        if self._allow_all:
            return True
        host, port = parsed
        if host.startswith("["):
            host = f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        effective = port if port is not None else DEFAULT_PORTS.get(scheme)
        if host in self._exact:
            ports = self._exact[host]
            if ports is None or effective in ports:
                return True
        for suffix, wanted in self._wildcards:
            if host.endswith(suffix) and (wanted is None or wanted == effective):
                return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request when its ``Host`` is not allowed; otherwise run the app."""
        if scope["type"] not in ("http", "websocket") or self._exempt.matches(scope["path"]):
            await self.app(scope, receive, send)
            return
        host: bytes | None = None
        count = 0
        for key, value in scope["headers"]:
            if key == b"host":
                host = value
                count += 1
        if count == 1 and self._is_allowed_cached(host, scope.get("scheme", "http")):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "Invalid host header"})
            return
        problem = Problem(
            400,
            type=problem_type("invalid-host"),
            title="Invalid host header",
            detail="The Host header is missing, malformed or names a host this service does not serve.",
        )
        await send_problem(scope, send, problem)


# --- production rules -------------------------------------------------------------------


def _check_hosts(settings: RuleInput) -> Iterable[Finding]:
    hosts = settings.hosts
    if not is_deployed(settings.environment):
        return
    if not hosts.enabled:
        yield finding(
            "HARDENING-HOST-003",
            "warning",
            "hosts.enabled",
            "The trusted-host check is off: any Host header reaches the app.",
            "Set HARDENING_HOSTS__ENABLED=true and list the hosts in HARDENING_HOSTS__ALLOWED_HOSTS.",
        )
        return
    if not hosts.allowed_hosts:
        yield finding(
            "HARDENING-HOST-001",
            "error",
            "hosts.allowed_hosts",
            "No trusted host is configured, so every request is refused with 400.",
            "List the hosts this service answers, e.g. HARDENING_HOSTS__ALLOWED_HOSTS='[\"api.example.com\"]'.",
        )
    elif "*" in hosts.allowed_hosts:
        yield finding(
            "HARDENING-HOST-002",
            "error",
            "hosts.allowed_hosts",
            "The trusted hosts allow any host ('*'), so forged Host headers reach the app.",
            "Replace '*' with the hosts this service answers.",
        )


CHECKS: tuple[Rule, ...] = (_check_hosts,)
"""Production rules of the trusted-host layer (``HARDENING-HOST-001`` to ``-003``)."""
