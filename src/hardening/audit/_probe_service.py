"""Health endpoints, error answers, request IDs and the rate-limit burst."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Final

import anyio

from hardening.audit._model import AuditFinding, Exchange, Status

if TYPE_CHECKING:
    from hardening.audit._context import ProbeContext

__all__ = (
    "NOT_FOUND_PATH",
    "OVERSIZED_BODY",
    "probe_errors",
    "probe_health",
    "probe_leaked_details",
    "probe_rate_limit",
    "probe_request_ids",
)

NOT_FOUND_PATH: Final = "/hardening-audit-probe/not-found"
"""A path no service routes."""

OVERSIZED_BODY: Final = 16 * 1024 * 1024
"""Bytes of the oversized-body probe: above any sensible default body limit."""

PROBE_REQUEST_ID: Final = "7d0f6a9e-5b1c-4c56-9a55-0a1f3e2b4c6d"
"""The request ID the audit sends to see it echoed."""

_PROBLEM: Final = "application/problem+json"
_HEALTH_JSON: Final = "application/health+json"
_EXISTS: Final = frozenset({200, 503})
_SLOW_MS: Final = 1000.0
_BURST_SECONDS: Final = 10.0
_TOO_MANY: Final = 429
_TRACEBACK: Final = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"\n]+\", line \d+|\bat [\w.$]+\(\w+\.java:\d+\)"
)
_FINGERPRINT: Final = re.compile(
    r"\b(starlette|fastapi|uvicorn|hypercorn|gunicorn|daphne|granian|django|flask|werkzeug|pydantic|litestar"
    r"|quart|sanic|cpython|python/\d)\b|errors\.pydantic\.dev/\d",
    re.IGNORECASE,
)
_ID_HEADERS: Final = ("x-request-id", "x-correlation-id", "request-id", "x-amzn-requestid", "traceparent")


async def probe_health(ctx: ProbeContext) -> list[AuditFinding]:
    """Look for liveness, readiness and a health+json view (AUD-HEALTH-001 to -005)."""
    answers = {path: await ctx.get("GET", path) for path in ("/livez", "/healthz", "/readyz", "/health")}
    existing = {path: e for path, e in answers.items() if e.status in _EXISTS}
    if not existing:
        tried = ", ".join(f"{path} {e.status}" for path, e in answers.items())
        return [
            AuditFinding.of("AUD-HEALTH-001", "fail", f"No health endpoint answered ({tried}).", [answers["/livez"]]),
            AuditFinding.of("AUD-HEALTH-002", "fail", "No liveness endpoint."),
            AuditFinding.of("AUD-HEALTH-003", "fail", "No readiness endpoint."),
            AuditFinding.of("AUD-HEALTH-004", "fail", "No health+json view."),
            AuditFinding.of("AUD-HEALTH-005", "skip", "No health endpoint to time."),
        ]
    findings = [AuditFinding.of("AUD-HEALTH-001", "pass", "Found: " + ", ".join(existing) + ".")]
    live = existing.get("/livez") or existing.get("/healthz")
    if live is None:
        findings.append(AuditFinding.of("AUD-HEALTH-002", "fail", "Neither /livez nor /healthz answers."))
    elif live.status == 200:
        findings.append(AuditFinding.of("AUD-HEALTH-002", "pass", f"{live.path} answers 200."))
    else:
        findings.append(AuditFinding.of("AUD-HEALTH-002", "warn", f"{live.path} answers {live.status}.", [live]))
    ready = existing.get("/readyz")
    if ready is None:
        findings.append(AuditFinding.of("AUD-HEALTH-003", "fail", "/readyz does not answer.", [answers["/readyz"]]))
    else:
        status: Status = "pass" if ready.status == 200 else "warn"
        findings.append(AuditFinding.of("AUD-HEALTH-003", status, f"/readyz answers {ready.status}."))
    typed = [e for e in existing.values() if e.content_type == _HEALTH_JSON]
    findings.append(
        AuditFinding.of("AUD-HEALTH-004", "pass", f"{typed[0].path} answers {_HEALTH_JSON}.")
        if typed
        else AuditFinding.of(
            "AUD-HEALTH-004", "warn", f"Health endpoints answer {next(iter(existing.values())).content_type or '?'}."
        )
    )
    slowest = max(existing.values(), key=lambda e: e.elapsed_ms)
    findings.append(
        AuditFinding.of("AUD-HEALTH-005", "pass", f"Slowest: {slowest.path} in {slowest.elapsed_ms:.0f} ms.")
        if slowest.elapsed_ms <= _SLOW_MS
        else AuditFinding.of("AUD-HEALTH-005", "warn", f"{slowest.path} took {slowest.elapsed_ms:.0f} ms.", [slowest])
    )
    return findings


def _error_answer(check: str, exchange: Exchange, expected: int, what: str) -> AuditFinding:
    if exchange.status is None:
        return AuditFinding.of(check, "warn", f"{what}: no response ({exchange.reason}).", [exchange])
    if exchange.status >= 500:
        return AuditFinding.of(check, "fail", f"{what} answered {exchange.status}.", [exchange])
    if exchange.status != expected:
        return AuditFinding.of(check, "fail", f"{what} answered {exchange.status}, not {expected}.", [exchange])
    if exchange.content_type != _PROBLEM:
        shape = exchange.content_type or "no content type"
        return AuditFinding.of(check, "warn", f"{what} answered {expected} as {shape}, not {_PROBLEM}.", [exchange])
    return AuditFinding.of(check, "pass", f"{what} answered {expected} {_PROBLEM}.")


def _status_answer(check: str, exchange: Exchange, expected: range, what: str) -> AuditFinding:
    if exchange.status is None:
        return AuditFinding.of(check, "warn", f"{what}: no response ({exchange.reason}).", [exchange])
    if exchange.status not in expected:
        return AuditFinding.of(check, "fail", f"{what} answered {exchange.status}.", [exchange])
    return AuditFinding.of(check, "pass", f"{what} answered {exchange.status} ({exchange.content_type or '-'}).")


async def probe_errors(ctx: ProbeContext) -> list[AuditFinding]:
    """404, 405, malformed JSON and an oversized body (AUD-ERR-001 to -004, -007)."""
    findings = []
    missing = await ctx.get("GET", NOT_FOUND_PATH)
    if missing.status == 200:
        findings.append(AuditFinding.of("AUD-ERR-001", "skip", "A catch-all route answered 200.", [missing]))
    else:
        findings.append(_error_answer("AUD-ERR-001", missing, 404, "An unknown path"))

    method, path = ctx.routes.method_not_allowed() or ("DELETE", ctx.path)
    refused = await ctx.get(method, path)
    if refused.status in (404, 200, 204):
        findings.append(AuditFinding.of("AUD-ERR-002", "skip", "No route known to refuse a method.", [refused]))
    else:
        finding = _error_answer("AUD-ERR-002", refused, 405, f"{method} {path}")
        if finding.status == "pass" and not refused.header("allow"):
            finding = AuditFinding.of("AUD-ERR-002", "warn", "405 without an `Allow` header.", [refused])
        findings.append(finding)

    known = ctx.routes.json_endpoint()
    method, path = known or ("POST", ctx.path)
    malformed = await ctx.get(
        method, path, headers={"Content-Type": "application/json"}, content=b'{"hardening-audit": '
    )
    if malformed.status in (404, 405):
        findings.append(AuditFinding.of("AUD-ERR-003", "skip", "No endpoint taking a JSON body found.", [malformed]))
    elif known is None and (malformed.status is None or malformed.status < 500):
        # Only a route that reads a body can mishandle one; a crash is a finding anyway.
        why = (
            f"No route known to read a request body (no POST, PUT or PATCH route in the app or its OpenAPI "
            f"document); {method} {path} with malformed JSON answered {malformed.status or malformed.reason}."
        )
        findings.append(AuditFinding.of("AUD-ERR-003", "skip", why, [malformed]))
    else:
        findings.append(_status_answer("AUD-ERR-003", malformed, range(400, 500), f"Malformed JSON to {method} {path}"))
    big = await ctx.get(
        method,
        path,
        headers={"Content-Type": "application/json"},
        content=b"a" * OVERSIZED_BODY,
        show_body_size=True,
    )
    findings.append(_status_answer("AUD-ERR-004", big, range(413, 414), f"A {OVERSIZED_BODY >> 20} MiB body"))
    client_errors = [e for e in (malformed, big) if e.status is not None and 400 <= e.status < 500 and e.status != 405]
    shaped = [e for e in client_errors if e.content_type != _PROBLEM]
    if not client_errors:
        findings.append(AuditFinding.of("AUD-ERR-007", "skip", "No 4xx answer to bad input was seen."))
    elif shaped:
        observed = f"{shaped[0].method} {shaped[0].path} answered {shaped[0].status} as {shaped[0].content_type}."
        findings.append(AuditFinding.of("AUD-ERR-007", "warn", observed, shaped[:1]))
    else:
        findings.append(AuditFinding.of("AUD-ERR-007", "pass", f"Bad input answered {_PROBLEM}."))
    return findings


def probe_leaked_details(ctx: ProbeContext) -> list[AuditFinding]:
    """Scan every error answer for tracebacks and stack fingerprints (AUD-ERR-005, -006)."""
    if not ctx.error_exchanges:
        return [
            AuditFinding.of("AUD-ERR-005", "skip", "No error response to inspect."),
            AuditFinding.of("AUD-ERR-006", "skip", "No error response to inspect."),
        ]
    count = f"{len(ctx.error_exchanges)} error responses inspected"
    traced = [e for e in ctx.error_exchanges if _TRACEBACK.search(e.body)]
    named = [e for e in ctx.error_exchanges if _FINGERPRINT.search(e.body)]
    findings = [
        AuditFinding.of("AUD-ERR-005", "fail", f"A traceback is in the {traced[0].status} answer.", traced[:1])
        if traced
        else AuditFinding.of("AUD-ERR-005", "pass", f"No traceback ({count}).")
    ]
    if named:
        match = _FINGERPRINT.search(named[0].body)
        word = match.group(0) if match else "?"
        findings.append(
            AuditFinding.of("AUD-ERR-006", "fail", f"The {named[0].status} answer names `{word}`.", named[:1])
        )
    else:
        findings.append(AuditFinding.of("AUD-ERR-006", "pass", f"No framework name or version ({count})."))
    return findings


async def probe_request_ids(ctx: ProbeContext) -> list[AuditFinding]:
    """A request ID on every response, and an incoming one echoed (AUD-RID-001, -002)."""
    baseline = ctx.baseline
    if baseline is None or baseline.status is None:
        return [AuditFinding.of(c, "skip", "No response.") for c in ("AUD-RID-001", "AUD-RID-002")]
    names = [name for name in _ID_HEADERS if baseline.header(name)]
    findings = [
        AuditFinding.of("AUD-RID-001", "pass", f"Responses carry {names[0]}.")
        if names
        else AuditFinding.of("AUD-RID-001", "fail", "No request-ID header on the response.", [baseline])
    ]
    sent = await ctx.get("GET", ctx.path, headers={"X-Request-ID": PROBE_REQUEST_ID})
    echoed = any(PROBE_REQUEST_ID in value for _, value in sent.response_headers)
    findings.append(
        AuditFinding.of("AUD-RID-002", "pass", "The incoming X-Request-ID is echoed.")
        if echoed
        else AuditFinding.of(
            "AUD-RID-002", "warn" if names else "fail", "The incoming X-Request-ID is not echoed.", [sent]
        )
    )
    return findings


async def probe_rate_limit(ctx: ProbeContext, *, concurrency: int = 1) -> list[AuditFinding]:
    """Send a short bounded burst; it should meet 429 with headers (AUD-RL-001 to -003)."""
    if not ctx.burst:
        why = "Skipped (--no-burst)."
        return [AuditFinding.of(c, "skip", why) for c in ("AUD-RL-001", "AUD-RL-002", "AUD-RL-003")]
    started = time.perf_counter()
    sent = 0
    first: list[Exchange] = []
    limited: list[Exchange] = []

    async def worker() -> None:
        nonlocal sent
        while sent < ctx.burst_max and not limited and time.perf_counter() - started < _BURST_SECONDS:
            sent += 1
            exchange = await ctx.prober.send("GET", ctx.burst_path)
            if not first:
                first.append(exchange)
            if exchange.status == _TOO_MANY and not limited:
                limited.append(exchange)
                ctx.error_exchanges.append(exchange)

    async with anyio.create_task_group() as group:
        for _ in range(concurrency):
            group.start_soon(worker)
    seconds = time.perf_counter() - started
    advertised = [
        e
        for e in (limited or first)
        if any(e.header(n) for n in ("ratelimit", "ratelimit-policy", "x-ratelimit-limit"))
    ]
    if not limited:
        observed = f"No 429 after {sent} requests in {seconds:.1f} s to {ctx.burst_path}."
        return [
            AuditFinding.of("AUD-RL-001", "fail", observed, first),
            AuditFinding.of("AUD-RL-002", "skip", "No 429 to inspect."),
            AuditFinding.of("AUD-RL-003", "pass", "Quota headers are sent.")
            if advertised
            else AuditFinding.of("AUD-RL-003", "fail", "No rate-limit headers on responses.", first),
        ]
    hit = limited[0]
    return [
        AuditFinding.of("AUD-RL-001", "pass", f"429 after {sent} requests in {seconds:.1f} s to {ctx.burst_path}."),
        AuditFinding.of("AUD-RL-002", "pass", f"Retry-After: {hit.header('retry-after')}.")
        if hit.header("retry-after")
        else AuditFinding.of("AUD-RL-002", "fail", "The 429 has no Retry-After.", [hit]),
        AuditFinding.of("AUD-RL-003", "pass", "The 429 carries the quota headers.")
        if advertised
        else AuditFinding.of("AUD-RL-003", "fail", "No rate-limit headers on the 429.", [hit]),
    ]
