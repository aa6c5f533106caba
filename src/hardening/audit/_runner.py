"""Run every probe against an in-process ASGI app or a URL and build the report."""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import anyio

from hardening.audit._client import Prober, TargetUnreachableError
from hardening.audit._context import ProbeContext
from hardening.audit._lifespan import lifespan, with_state
from hardening.audit._model import AuditError, AuditFinding, AuditReport
from hardening.audit._probe_access import probe_cors, probe_hosts, refused_by_host
from hardening.audit._probe_config import check_settings_findings, stack_findings
from hardening.audit._probe_headers import probe_headers, probe_leaks
from hardening.audit._probe_service import (
    probe_errors,
    probe_health,
    probe_leaked_details,
    probe_rate_limit,
    probe_request_ids,
)
from hardening.audit._stack import Routes, _chain, find_layers, find_routes, routes_from_openapi
from hardening.audit._target import app_host, build_target, load_app
from hardening.redaction import redact_url

if TYPE_CHECKING:
    from starlette.types import ASGIApp

__all__ = ("AuditError", "Progress", "audit", "load_app", "run_audit")

Progress = Callable[[int, int, str], None]
"""Called before each step with ``(step, total, label)``."""

_URL_CONCURRENCY: Final = 8
_OPENAPI: Final = "/openapi.json"


def _hardening_of(settings: Any) -> Any:
    from pydantic import BaseModel

    from hardening.settings import HardeningSettings

    if isinstance(settings, type) and issubclass(settings, BaseModel):
        try:
            settings = settings()
        except Exception:
            return None
    if isinstance(settings, HardeningSettings):
        return settings
    found = getattr(settings, "hardening", None)
    return found if isinstance(found, HardeningSettings) else None


def _host_and_origin(settings: Any, host: str | None, origin: str | None) -> tuple[str | None, str | None]:
    hardening = _hardening_of(settings) if settings is not None else None
    if host is None and hardening is not None:
        host = next((h for h in hardening.hosts.allowed_hosts if "*" not in h), None)
    if origin is None and hardening is not None:
        origin = next((o for o in hardening.cors.allow_origins if "*" not in o and o != "null"), None)
    return host, origin


def _label(app: Any) -> str:
    chain = _chain(app)
    inner = type(chain[-1])
    label = f"{inner.__module__}.{inner.__qualname__}"
    return f"{label} in {len(chain) - 1} middleware" if len(chain) > 1 else label


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


async def _url_routes(client: Any) -> Routes:
    try:
        with anyio.fail_after(5):
            response = await client.get(_OPENAPI.lstrip("/") if str(client.base_url).endswith("/") else _OPENAPI)
        if response.status_code == 200 and "json" in response.headers.get("content-type", ""):
            return routes_from_openapi(json.loads(response.content))
    except Exception:  # noqa: S110 - no OpenAPI document: fall back to guesses
        pass
    return Routes({})


async def _probe(
    ctx: ProbeContext,
    progress: Progress | None,
    *,
    configuration: list[AuditFinding],
    layers: tuple[str, ...] | None,
    concurrency: int,
) -> list[AuditFinding]:
    steps: list[tuple[str, Callable[[], Awaitable[list[AuditFinding]]]]] = [
        ("security headers", lambda: probe_headers(ctx)),
        ("CORS", lambda: probe_cors(ctx)),
        ("trusted hosts", lambda: probe_hosts(ctx)),
        ("request IDs", lambda: probe_request_ids(ctx)),
        ("health endpoints", lambda: probe_health(ctx)),
        ("error answers", lambda: probe_errors(ctx)),
        ("rate limiting", lambda: probe_rate_limit(ctx, concurrency=concurrency)),
    ]
    total = len(steps) + 2
    findings: list[AuditFinding] = []
    for index, (label, step) in enumerate(steps, start=1):
        if progress is not None:
            progress(index, total, label)
        findings.extend(await step())
    if progress is not None:
        progress(total - 1, total, "leaks")
    findings.extend(await probe_leaks(ctx))
    findings.extend(probe_leaked_details(ctx))
    if progress is not None:
        progress(total, total, "configuration")
    findings.extend(configuration)
    findings.extend(stack_findings(layers))
    return findings


async def run_audit(
    target: ASGIApp | Callable[[], ASGIApp] | str,
    *,
    settings: Any = None,
    host: str | None = None,
    origin: str | None = None,
    path: str = "/",
    burst: bool = True,
    burst_path: str | None = None,
    burst_max: int = 200,
    request_timeout: float = 5.0,
    progress: Progress | None = None,
    name: str | None = None,
    factory: bool = False,
) -> AuditReport:
    """Audit ``target`` and return the report (async version of :func:`audit`)."""
    from hardening import __version__
    from hardening._imports import require

    httpx: Any = require("httpx", extra="audit", feature="the audit")
    notes: list[str] = []
    app: ASGIApp | None = None
    if isinstance(target, str) and not target.startswith(("http://", "https://")):
        name = name or target
        target = load_app(target)
    if not isinstance(target, str):
        built = build_target(target, name=name or str(getattr(target, "__qualname__", "the target")), factory=factory)
        app = built.app
        notes.extend(built.notes)
    configuration = check_settings_findings(settings)
    given_host = host
    host, origin = _host_and_origin(settings, host, origin)
    ctx_args: dict[str, Any] = {
        "path": path,
        "origin": origin,
        "burst": burst,
        "burst_path": burst_path or path,
        "burst_max": burst_max,
    }
    if app is None:  # a URL
        base_url = str(target).rstrip("/")
        async with httpx.AsyncClient(base_url=base_url, timeout=request_timeout, follow_redirects=False) as client:
            ctx = ProbeContext(
                Prober(client, timeout=request_timeout), base_url, routes=await _url_routes(client), **ctx_args
            )
            ctx.baseline = await ctx.get("GET", path)
            if ctx.baseline.status is None:
                msg = f"{redact_url(base_url)} did not answer GET {path} ({ctx.baseline.reason})"
                raise TargetUnreachableError(msg)
            findings = await _probe(
                ctx, progress, configuration=configuration, layers=None, concurrency=_URL_CONCURRENCY
            )
        return AuditReport(
            redact_url(str(target)),
            "url",
            redact_url(base_url),
            _now(),
            tuple(findings),
            None,
            tuple(notes),
            __version__,
        )

    layers = find_layers(app)
    if host is None:
        host = app_host(app)
        if host is not None:
            notes.append(f"Host {host} taken from the app's trusted-hosts layer (pass --host to choose another).")
    base_url = f"https://{host or 'testserver'}"
    async with lifespan(app, startup_timeout=request_timeout * 2) as state:
        if state is None:
            notes.append("The app does not support the ASGI lifespan protocol; probed without start-up.")
        transport = httpx.ASGITransport(app=with_state(app, state), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            ctx = ProbeContext(Prober(client, timeout=request_timeout), base_url, routes=find_routes(app), **ctx_args)
            ctx.baseline = await ctx.get("GET", path)
            findings = await _probe(ctx, progress, configuration=configuration, layers=layers, concurrency=1)
    findings = refused_by_host(findings, ctx.prober.exchanges, host_given=given_host is not None)
    label = name or _label(app)
    return AuditReport(label, "in-process", base_url, _now(), tuple(findings), layers, tuple(notes), __version__)


def audit(target: ASGIApp | Callable[[], ASGIApp] | str, **options: Any) -> AuditReport:
    """Audit an ASGI app in-process, or a running service by URL, and return the report.

    Args:
        target: An ASGI app object or app factory, ``"MODULE:APP"`` (uvicorn's form), or an
            ``http://``/``https://`` URL.
        **options: ``settings`` (a settings class or object: adds the configuration
            checks), ``host`` (the ``Host`` the service answers; default: the first
            allowed host in ``settings``, else one the app's own trusted-hosts layer
            accepts, else ``testserver``), ``origin`` (an allowed CORS origin), ``path``
            (the page graded, default ``/``), ``burst`` (``False`` skips the rate-limit
            burst), ``burst_path``, ``burst_max``, ``request_timeout`` (seconds per
            request), ``progress`` (a callback), ``name`` and ``factory`` (``True``:
            ``target`` is an app factory to call; a zero-argument callable is detected
            as one anyway, and the report says so).

    Returns:
        The :class:`~hardening.audit.AuditReport`.

    Raises:
        AuditError: The target cannot be imported, or its lifespan start-up failed.
        TargetUnreachableError: A URL target did not answer.
    """
    return anyio.run(functools.partial(run_audit, target, **options))
