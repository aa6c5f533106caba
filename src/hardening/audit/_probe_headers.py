"""Security headers (graded like the MDN Observatory v6) and stack-leaking headers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from hardening.audit._model import AuditFinding, Exchange, Status

if TYPE_CHECKING:
    from hardening.audit._context import ProbeContext
    from hardening.observatory import ObservatoryGrade

__all__ = ("probe_headers", "probe_leaks", "response_class")

_PASS_SCORE: Final = 90
_FAIL_SCORE: Final = 70
_WEAK_CSP: Final = frozenset(
    {
        "csp-implemented-with-unsafe-inline",
        "csp-implemented-with-insecure-scheme",
        "csp-implemented-with-unsafe-eval",
        "csp-header-invalid",
    }
)
_HEADER_CHECKS: Final = tuple(f"AUD-HDR-00{n}" for n in range(1, 9))


def response_class(exchange: Exchange, path: str) -> str:
    """Return the response class the headers should fit: ``api``, ``webapp`` or ``docs``."""
    if path.rstrip("/") in ("/docs", "/redoc") or path.startswith(("/docs/", "/redoc/")):
        return "docs"
    return "webapp" if exchange.content_type in ("text/html", "application/xhtml+xml") else "api"


def _article(kind: str) -> str:
    return "an API" if kind == "api" else f"a {kind}"


def _csp(exchange: Exchange, grade: ObservatoryGrade, kind: str) -> AuditFinding:
    csp = exchange.header("content-security-policy")
    result = grade.tests["content-security-policy"].result
    if csp is None:
        return AuditFinding.of(
            "AUD-HDR-002", "fail", f"No Content-Security-Policy on {_article(kind)} response.", [exchange]
        )
    if result in _WEAK_CSP:
        return AuditFinding.of("AUD-HDR-002", "warn", f"The CSP is weak (Observatory: {result}).", [exchange])
    if kind == "api" and "default-src 'none'" not in csp.lower():
        return AuditFinding.of(
            "AUD-HDR-002", "warn", "The API response's CSP does not start from `default-src 'none'`.", [exchange]
        )
    return AuditFinding.of("AUD-HDR-002", "pass", f"{_article(kind).capitalize()} CSP is sent ({result}).")


def _header_findings(exchange: Exchange, grade: ObservatoryGrade, kind: str, https: bool) -> list[AuditFinding]:
    ev = [exchange]
    penalties = ", ".join(f"{t.name} {t.modifier}" for t in grade.penalties()) or "none"
    score = f"Score {grade.score}/100, grade {grade.grade} (penalties: {penalties})."
    status: Status = "pass" if grade.score >= _PASS_SCORE else "warn" if grade.score >= _FAIL_SCORE else "fail"
    findings = [
        AuditFinding.of("AUD-HDR-001", status, score, ev if status != "pass" else ()),
        _csp(exchange, grade, kind),
    ]

    nosniff = (exchange.header("x-content-type-options") or "").strip().lower() == "nosniff"
    findings.append(
        AuditFinding.of("AUD-HDR-003", "pass", "nosniff is sent.")
        if nosniff
        else AuditFinding.of("AUD-HDR-003", "fail", "X-Content-Type-Options: nosniff is missing.", ev)
    )
    framing = grade.tests["x-frame-options"].result
    findings.append(
        AuditFinding.of("AUD-HDR-004", "pass", f"Framing is controlled ({framing}).")
        if framing in ("x-frame-options-implemented-via-csp", "x-frame-options-sameorigin-or-deny")
        else AuditFinding.of("AUD-HDR-004", "fail", f"Any site can frame the response ({framing}).", ev)
    )
    hsts = grade.tests["strict-transport-security"].result
    if not https:
        findings.append(AuditFinding.of("AUD-HDR-005", "skip", "Probed over plain HTTP; HSTS applies to HTTPS only."))
    elif hsts == "hsts-implemented-max-age-at-least-six-months":
        findings.append(AuditFinding.of("AUD-HDR-005", "pass", "HSTS for at least six months."))
    elif hsts == "hsts-implemented-max-age-less-than-six-months":
        findings.append(AuditFinding.of("AUD-HDR-005", "warn", "HSTS max-age is under six months.", ev))
    else:
        findings.append(AuditFinding.of("AUD-HDR-005", "fail", f"No valid HSTS on an HTTPS response ({hsts}).", ev))
    referrer = grade.tests["referrer-policy"].result
    findings.append(
        AuditFinding.of("AUD-HDR-006", "pass", "A private Referrer-Policy is sent.")
        if referrer == "referrer-policy-private"
        else AuditFinding.of(
            "AUD-HDR-006", "fail" if referrer == "referrer-policy-not-implemented" else "warn", f"{referrer}.", ev
        )
    )
    isolation = [
        name for name in ("cross-origin-opener-policy", "cross-origin-resource-policy") if exchange.header(name)
    ]
    findings.append(
        AuditFinding.of("AUD-HDR-007", "pass", "COOP and CORP are sent.")
        if len(isolation) == 2
        else AuditFinding.of(
            "AUD-HDR-007",
            "warn" if isolation else "fail",
            f"Sent: {', '.join(isolation) or 'neither COOP nor CORP'}.",
            ev,
        )
    )
    if kind != "api":
        findings.append(AuditFinding.of("AUD-HDR-008", "skip", f"Not an API response ({kind})."))
    else:
        cache = (exchange.header("cache-control") or "").lower()
        findings.append(
            AuditFinding.of("AUD-HDR-008", "pass", f"Cache-Control: {cache}.")
            if "no-store" in cache or "private" in cache
            else AuditFinding.of("AUD-HDR-008", "warn", f"Cache-Control: {cache or '(none)'}.", ev)
        )
    return findings


async def probe_headers(ctx: ProbeContext) -> list[AuditFinding]:
    """Grade the baseline response's security headers (AUD-HDR-001 to -008)."""
    from hardening.observatory import OBSERVATORY_ORIGIN, grade_headers

    exchange = ctx.baseline
    if exchange is None or exchange.status is None:
        reason = "The baseline request got no response."
        return [AuditFinding.of(check, "skip", reason) for check in _HEADER_CHECKS]
    preflight = await ctx.get(
        "OPTIONS", ctx.path, headers={"Origin": OBSERVATORY_ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    grade = grade_headers(
        list(exchange.response_headers),
        url=ctx.base_url + ctx.path,
        preflight=list(preflight.response_headers) if preflight.status is not None else None,
    )
    return _header_findings(exchange, grade, response_class(exchange, ctx.path), ctx.https)


async def probe_leaks(ctx: ProbeContext) -> list[AuditFinding]:
    """Look for ``Server``, ``X-Powered-By`` and other fingerprinting headers (AUD-LEAK-001)."""
    from hardening.headers import LEAKY_HEADERS

    seen = [ctx.baseline] if ctx.baseline is not None else []
    seen += ctx.error_exchanges
    for exchange in seen:
        leaked = [f"{name}: {value}" for name, value in exchange.response_headers if name in LEAKY_HEADERS]
        if leaked:
            return [AuditFinding.of("AUD-LEAK-001", "fail", "Leaks " + "; ".join(leaked) + ".", [exchange])]
    if not seen:
        return [AuditFinding.of("AUD-LEAK-001", "skip", "No response to inspect.")]
    return [AuditFinding.of("AUD-LEAK-001", "pass", f"None of {len(LEAKY_HEADERS)} fingerprinting headers sent.")]
