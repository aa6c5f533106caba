"""Helpers for your own tests: offline header grading and hardening assertions.

:func:`grade_headers` (from :mod:`hardening.observatory`, re-exported here) scores a
response with the MDN HTTP Observatory's algorithm (version 6), offline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal

from hardening.observatory import OBSERVATORY_ORIGIN, ObservatoryGrade, ObservatoryTest, grade_headers, header_pairs
from hardening.testing_faults import FaultMode, FaultProxy

if TYPE_CHECKING:
    from hardening.audit import AuditReport, FailLevel

__all__ = (
    "OBSERVATORY_ORIGIN",
    "FaultMode",
    "FaultProxy",
    "ObservatoryGrade",
    "ObservatoryTest",
    "assert_audit_passes",
    "assert_hardened",
    "audit_app",
    "grade_headers",
)

_PROFILE_CHECKS: Final[dict[str, tuple[str, ...]]] = {
    "api": ("default-src 'none'", "frame-ancestors 'none'"),
    "webapp": ("'strict-dynamic'", "object-src 'none'", "base-uri"),
    "docs": ("object-src 'none'", "frame-ancestors"),
}
_MIN_GRADE: Final = {"api": 100, "webapp": 90, "docs": 70}


def assert_hardened(
    response: Any,
    profile: Literal["api", "webapp", "docs"] = "api",
    *,
    url: str | None = None,
) -> ObservatoryGrade:
    """Assert that ``response`` carries the hardened headers of ``profile``.

    Checks: no header sent twice (except ``Set-Cookie``, ``Vary`` and ``Link``), no
    ``Server``/``X-Powered-By``, ``nosniff``, anti-framing, a referrer policy, the
    profile's CSP essentials, HSTS on HTTPS, and an Observatory score of at least 100
    (``api``), 90 (``webapp``) or 70 (``docs``).

    Args:
        response: An ``httpx.Response`` (or anything :func:`grade_headers` accepts).
        profile: The response class it should have been hardened as.
        url: The response URL, when ``response`` does not carry one.

    Returns:
        The grade, for further assertions.

    Raises:
        AssertionError: Listing every missing or wrong header.
    """
    pairs = header_pairs(response)
    grade = grade_headers(pairs, url=url or str(getattr(response, "url", "") or "https://example.com/"))
    problems: list[str] = []
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1} - {"set-cookie", "vary", "link"})
    if repeated:
        problems.append(f"headers sent more than once: {', '.join(repeated)}")
    problems.extend(f"leaky header present: {name}" for name in ("server", "x-powered-by") if name in names)
    csp = " ".join(value for name, value in pairs if name == "content-security-policy")
    problems.extend(
        f"{profile} CSP lacks {needle!r}: {csp or '(no CSP)'}"
        for needle in _PROFILE_CHECKS[profile]
        if needle not in csp
    )
    if dict(reversed(pairs)).get("x-content-type-options", "").lower() != "nosniff":
        problems.append("X-Content-Type-Options: nosniff is missing")
    if grade.tests["strict-transport-security"].applicable and "strict-transport-security" not in names:
        problems.append("Strict-Transport-Security is missing on an HTTPS response")
    if grade.score < _MIN_GRADE[profile]:
        lost = ", ".join(f"{test.name} ({test.modifier})" for test in grade.penalties())
        problems.append(f"Observatory score {grade.score} < {_MIN_GRADE[profile]}; penalties: {lost}")
    if problems:
        raise AssertionError("response is not hardened:\n- " + "\n- ".join(problems))
    return grade


def audit_app(app: Any, **options: Any) -> AuditReport:
    """Run ``hardening audit`` on ``app`` in-process (lifespan included, no network).

    For synchronous tests; in an async test use ``await hardening.audit.run_audit(app)``.

    Args:
        app: An ASGI app (or an ``http(s)://`` URL of a running service).
        **options: Passed to :func:`hardening.audit.audit`: ``settings``, ``host``,
            ``origin``, ``path``, ``burst``, ``burst_path``, ...

    Returns:
        The report: ``report.problem_ids("P1")``, ``report["AUD-HDR-003"].status``, ...
    """
    from hardening.audit import audit

    return audit(app, **options)


def assert_audit_passes(app: Any, fail_level: FailLevel = "p1", **options: Any) -> AuditReport:
    """Assert that the audit finds nothing at or above ``fail_level`` (default: P0 and P1).

    Args:
        app: An ASGI app, a URL, or an :class:`~hardening.audit.AuditReport` already run.
        fail_level: ``p0``, ``p1`` or ``p2``.
        **options: Passed to :func:`audit_app`.

    Returns:
        The report, for further assertions.

    Raises:
        AssertionError: Listing each failing finding with what was seen and the fix.
    """
    from hardening.audit import AuditReport

    report = app if isinstance(app, AuditReport) else audit_app(app, **options)
    failures = report.failures(fail_level)
    if failures:
        lines = [f"{f.priority} {f.id} {f.title}: {f.observed} Fix: {f.fix}" for f in failures]
        raise AssertionError(
            f"audit found {len(failures)} problem(s) at {fail_level.upper()} or above:\n- " + "\n- ".join(lines)
        )
    return report
