"""``HealthMiddleware``: answers the probe paths and follows the ASGI lifespan.

A pure ASGI middleware. Requests to the configured paths are answered here (before
host checks: probes send the pod IP as ``Host``); everything else goes to the app.
The lifespan scope is watched, not consumed: readiness is down until start-up and the
warm-up hooks are done, and from the moment shutdown begins.
"""

from __future__ import annotations

import hmac
import time
from typing import TYPE_CHECKING, Final

from hardening._asgi import get_header
from hardening._context import LayerContext
from hardening._paths import ProbePaths
from hardening.health.config import HealthConfig
from hardening.health.output import HEALTH_JSON, OPENMETRICS, health_json, minimal_json, openmetrics
from hardening.health.registry import CheckSpec, Group, HealthRegistry
from hardening.health.result import CheckResult
from hardening.health.runtime import HealthRuntime
from hardening.problems import Problem, send_problem

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ("HealthMiddleware", "process_check")

_METHODS: Final = frozenset({"GET", "HEAD"})
_STARTED_AT: Final = time.monotonic()


async def process_check() -> CheckResult:
    """The liveness check: the process runs its event loop. Reports the uptime."""
    return CheckResult.passed(round(time.monotonic() - _STARTED_AT, 3), "s", component_type="system")


_PROCESS_SPEC: Final = CheckSpec(
    name="uptime",
    function=process_check,
    groups={"liveness": "critical", "health": "critical"},
    timeout=None,
    pass_ttl=0.0,
    fail_ttl=0.0,
    component_type="system",
    is_async=True,
)


class HealthMiddleware:
    """Serve ``/livez``, ``/readyz``, ``/startupz``, ``/health`` (and optional metrics).

    Args:
        app: The ASGI app to wrap.
        config: The endpoint settings; defaults when ``None``.
        context: The stack's shared context; its ``extras["health"]`` is the registry
            :func:`hardening.harden` was given.
        registry: The checks; ``None`` serves those of ``context``, else the process
            check only.

    Attributes:
        runtime: The :class:`~hardening.health.runtime.HealthRuntime` running the checks
            (call ``runtime.begin_shutdown()`` from a SIGTERM handler to drop readiness early).
    """

    def __init__(
        self,
        app: ASGIApp,
        config: HealthConfig | None = None,
        *,
        context: LayerContext | None = None,
        registry: HealthRegistry | None = None,
    ) -> None:
        if registry is None and context is not None:
            given = context.extras.get("health")
            registry = given if isinstance(given, HealthRegistry) else None
        self.app = app
        self.config = config = config if config is not None else HealthConfig()
        self.runtime = HealthRuntime(
            registry if registry is not None else HealthRegistry(),
            deadline=config.deadline,
            check_timeout=config.check_timeout,
            pass_ttl=config.pass_ttl,
            fail_ttl=config.fail_ttl,
            sync_workers=config.sync_workers,
            extra=(_PROCESS_SPEC,),
        )
        routes: tuple[tuple[str | None, Group | None], ...] = (
            (config.liveness_path, "liveness"),
            (config.readiness_path, "readiness"),
            (config.startup_path, "startup"),
            (config.health_path, "health"),
            (config.metrics_path, None),  # the metrics view
        )
        self._routes = {path: group for path, group in routes if path}
        self._paths = ProbePaths(tuple(self._routes))
        self._details = config.details
        self._token = config.token.get_secret_value().encode() if config.token is not None else b""
        self._retry_after = str(config.retry_after).encode()
        self._service = {
            "serviceId": config.service_id,
            "version": config.version,
            "releaseId": config.release_id,
            "description": config.description,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the health paths; watch the lifespan; pass everything else on."""
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if kind != "http":
            await self.app(scope, receive, send)
            return
        path = self._paths.route(scope["path"])
        if path is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] not in _METHODS:
            problem = Problem(405, detail="Health endpoints accept GET and HEAD only.")
            await send_problem(scope, send, problem, headers=[(b"allow", b"GET, HEAD")])
            return
        group = self._routes[path]
        if group is None:
            await self._metrics(scope, send)
            return
        report = await self.runtime.evaluate(group)
        details = self._show_details(scope)
        body = health_json(report, service=self._service) if details else minimal_json(report)
        if report.status == "fail":
            await _respond(scope, send, 503, _media_type(scope), body, (b"retry-after", self._retry_after))
        else:
            await _respond(scope, send, 200, _media_type(scope), body)

    def _show_details(self, scope: Scope) -> bool:
        if self._details == "always":
            return True
        if self._details == "never" or not self._token:
            return False
        headers = scope.get("headers", ())
        presented = get_header(headers, b"x-health-token")
        if presented is None:
            authorization = get_header(headers, b"authorization") or b""
            scheme, _, credentials = authorization.partition(b" ")
            if scheme.lower() != b"bearer":
                return False
            presented = credentials.strip()
        return hmac.compare_digest(presented, self._token)

    async def _metrics(self, scope: Scope, send: Send) -> None:
        if self._details == "token" and not self._show_details(scope):
            problem = Problem(401, detail="Send the health token to read health metrics.")
            await send_problem(scope, send, problem, headers=[(b"www-authenticate", b"Bearer")])
            return
        await _respond(scope, send, 200, OPENMETRICS.encode(), openmetrics(self.runtime.snapshot()))

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        runtime = self.runtime

        async def watched_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                runtime.begin_startup()
            elif message["type"] == "lifespan.shutdown":
                runtime.begin_shutdown()
            return message

        async def watched_send(message: Message) -> None:
            kind = message["type"]
            if kind == "lifespan.startup.complete":
                runtime.startup_complete()
            elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await runtime.close()
            await send(message)

        try:
            await self.app(scope, watched_receive, watched_send)
        except BaseException:
            if runtime.lifecycle == "starting":  # no lifespan support: do not stay "starting"
                runtime.lifecycle = "unknown"
            raise


async def _respond(
    scope: Scope, send: Send, status: int, content_type: bytes, body: bytes, *headers: tuple[bytes, bytes]
) -> None:
    """Send an uncached answer (no body to a HEAD request)."""
    start = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    start += [(b"cache-control", b"no-store"), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def _media_type(scope: Scope) -> bytes:
    accept = get_header(scope.get("headers", ()), b"accept") or b""
    if b"application/json" in accept and b"health+json" not in accept and b"*/*" not in accept:
        return b"application/json"
    return HEALTH_JSON.encode()
