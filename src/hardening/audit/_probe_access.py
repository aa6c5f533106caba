"""Who may talk to the service: CORS (arbitrary origins, preflights, ``Vary``) and ``Host``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from hardening._paths import QUIET_PROBE_PATHS
from hardening.audit._context import FOREIGN_HOST, FOREIGN_ORIGIN
from hardening.audit._model import AuditFinding, Exchange

if TYPE_CHECKING:
    from hardening.audit._context import ProbeContext

__all__ = ("probe_cors", "probe_hosts", "refused_by_host")

_REFUSED: Final = frozenset({400, 403, 421})
_HOST_REFUSALS: Final = frozenset({400, 421})
_STILL_VALID: Final = ("AUD-HEALTH-", "AUD-SET-", "AUD-STACK-")
_PREFLIGHT: Final = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}


def _vary(exchange: Exchange) -> set[str]:
    return {
        token.strip().lower()
        for name, value in exchange.response_headers
        if name == "vary"
        for token in value.split(",")
    }


def _grants(exchange: Exchange, origin: str) -> tuple[bool, bool]:
    """Return ``(origin granted, with credentials)``."""
    allowed = (exchange.header("access-control-allow-origin") or "").strip()
    credentials = (exchange.header("access-control-allow-credentials") or "").strip().lower() == "true"
    return allowed == origin, credentials


def _cors_exposure(simple: Exchange, preflight: Exchange) -> list[AuditFinding]:
    reflected = [e for e in (simple, preflight) if _grants(e, FOREIGN_ORIGIN)[0]]
    with_credentials = [e for e in reflected if _grants(e, FOREIGN_ORIGIN)[1]]
    wildcard = [e for e in (simple, preflight) if (e.header("access-control-allow-origin") or "").strip() == "*"]
    findings = [
        AuditFinding.of(
            "AUD-CORS-001",
            "fail",
            f"`Origin: {FOREIGN_ORIGIN}` was reflected with `Access-Control-Allow-Credentials: true`.",
            with_credentials,
        )
        if with_credentials
        else AuditFinding.of("AUD-CORS-001", "pass", "An unknown origin gets no credentialed access.")
    ]
    if reflected:
        findings.append(AuditFinding.of("AUD-CORS-002", "fail", "An unknown origin is reflected.", reflected))
    elif wildcard:
        findings.append(
            AuditFinding.of("AUD-CORS-002", "warn", "`Access-Control-Allow-Origin: *` (public data only).", wildcard)
        )
    else:
        findings.append(AuditFinding.of("AUD-CORS-002", "pass", "An unknown origin is not allowed."))
    return findings


def _cors_vary(exchanges: list[Exchange]) -> AuditFinding:
    specific = [e for e in exchanges if (e.header("access-control-allow-origin") or "*").strip() not in ("*", "")]
    missing = [e for e in specific if "origin" not in _vary(e)]
    if missing:
        return AuditFinding.of(
            "AUD-CORS-003", "fail", "A response names an allowed origin without `Vary: Origin`.", missing[:1]
        )
    if specific:
        return AuditFinding.of("AUD-CORS-003", "pass", "Origin-specific answers carry `Vary: Origin`.")
    if any("origin" in _vary(e) for e in exchanges):
        return AuditFinding.of("AUD-CORS-003", "pass", "`Vary: Origin` is sent even for refused origins.")
    return AuditFinding.of("AUD-CORS-003", "skip", "No origin-specific CORS answer was seen.")


def _preflight(foreign: Exchange, allowed: Exchange | None, origin: str | None) -> AuditFinding:
    if foreign.status is not None and foreign.status >= 500:
        return AuditFinding.of("AUD-CORS-004", "fail", f"A preflight crashed the app ({foreign.status}).", [foreign])
    if allowed is not None and origin is not None:
        granted = _grants(allowed, origin)[0] and allowed.header("access-control-allow-methods")
        if allowed.status is not None and allowed.status < 300 and granted:
            return AuditFinding.of("AUD-CORS-004", "pass", f"The preflight from {origin} is granted; others are not.")
        return AuditFinding.of(
            "AUD-CORS-004", "warn", f"The preflight from the allowed origin {origin} was not granted.", [allowed]
        )
    if _grants(foreign, FOREIGN_ORIGIN)[0] or (foreign.header("access-control-allow-origin") or "") == "*":
        return AuditFinding.of("AUD-CORS-004", "pass", "A CORS policy answers preflights (permissively).")
    policy = foreign.status == 403 or "access-control-request-method" in _vary(foreign)
    if policy:
        return AuditFinding.of("AUD-CORS-004", "pass", "A CORS policy answers preflights and refuses unknown origins.")
    return AuditFinding.of(
        "AUD-CORS-004", "warn", f"No CORS policy answered the preflight (status {foreign.status}).", [foreign]
    )


async def probe_cors(ctx: ProbeContext) -> list[AuditFinding]:
    """Probe CORS with an unknown origin, a preflight and ``Vary`` (AUD-CORS-001 to -004)."""
    simple = await ctx.get("GET", ctx.path, headers={"Origin": FOREIGN_ORIGIN})
    preflight = await ctx.get("OPTIONS", ctx.path, headers={"Origin": FOREIGN_ORIGIN, **_PREFLIGHT})
    if simple.status is None:
        return [AuditFinding.of(f"AUD-CORS-00{n}", "skip", "No response.") for n in range(1, 5)]
    exchanges = [simple, preflight]
    allowed: Exchange | None = None
    if ctx.origin:
        exchanges.append(await ctx.get("GET", ctx.path, headers={"Origin": ctx.origin}))
        allowed = await ctx.get("OPTIONS", ctx.path, headers={"Origin": ctx.origin, **_PREFLIGHT})
        exchanges.append(allowed)
    return [*_cors_exposure(simple, preflight), _cors_vary(exchanges), _preflight(preflight, allowed, ctx.origin)]


async def probe_hosts(ctx: ProbeContext) -> list[AuditFinding]:
    """Send a foreign ``Host`` and see whether it reaches the app (AUD-HOST-001)."""
    foreign = await ctx.get("GET", ctx.path, headers={"Host": FOREIGN_HOST})
    baseline = ctx.baseline
    if foreign.status is None or baseline is None or baseline.status is None:
        return [AuditFinding.of("AUD-HOST-001", "skip", "No response to compare.")]
    if foreign.status in _REFUSED:
        if baseline.status in _REFUSED:
            return [
                AuditFinding.of(
                    "AUD-HOST-001",
                    "skip",
                    f"The normal request was refused too ({baseline.status}): pass the host the service answers "
                    "(`--host`).",
                )
            ]
        return [AuditFinding.of("AUD-HOST-001", "pass", f"A foreign Host is refused ({foreign.status}).")]
    location = foreign.header("location") or ""
    echoed = " and the redirect points to it" if FOREIGN_HOST in location else ""
    observed = f"`Host: {FOREIGN_HOST}` reached the app (status {foreign.status}){echoed}."
    return [AuditFinding.of("AUD-HOST-001", "fail", observed, [foreign])]


def refused_by_host(findings: list[AuditFinding], exchanges: list[Exchange], *, host_given: bool) -> list[AuditFinding]:
    """When a host check refused every probe, say so once (AUD-RUN-001) instead of its consequences.

    Every answer outside the health paths was a 400 or 421 that names the host: the
    findings that depend on those answers become "not tested", with that reason.
    """
    # the probe paths pass whatever the Host (probes send the pod IP)
    answered = [e for e in exchanges if e.status is not None and not e.path.startswith(QUIET_PROBE_PATHS)]
    if not answered or any(e.status not in _HOST_REFUSALS or "host" not in e.body.lower() for e in answered):
        return findings
    host = next((value for name, value in answered[0].request_headers if name.lower() == "host"), "?")
    how = "given with --host" if host_given else "the audit's default"
    observed = (
        f"All {len(answered)} requests were refused by a host check ({answered[0].status} for Host {host}, "
        f"{how}); pass the Host the service answers with --host."
    )
    reason = f"Not tested: every request was refused by a host check ({answered[0].status} for Host {host})."
    kept = [
        f if f.id.startswith(_STILL_VALID) or not f.id.startswith("AUD-") else AuditFinding.of(f.id, "skip", reason)
        for f in findings
    ]
    return [AuditFinding.of("AUD-RUN-001", "fail", observed, answered[:1]), *kept]
