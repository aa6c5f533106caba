"""Production rules for the security-headers settings (``HARDENING-HDR-*``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from hardening.findings import Finding, Rule, finding
from hardening.headers.csp import NONCE_SOURCE, parse_policy

if TYPE_CHECKING:
    from hardening.findings import RuleInput

__all__ = ("CHECKS", "HSTS_MIN_MAX_AGE")

HSTS_MIN_MAX_AGE: Final = 15_768_000
"""Six months: shorter HSTS costs points on the MDN HTTP Observatory."""

_PROFILES: Final = ("api", "webapp", "docs")


def hsts_off(settings: RuleInput) -> Iterator[Finding]:
    """HARDENING-HDR-001: HSTS is off (or the whole headers layer is)."""
    headers = settings.headers
    if not headers.enabled:
        yield finding(
            "HARDENING-HDR-001",
            "error",
            "headers.enabled",
            "The security-headers layer is disabled: no HSTS, CSP or anti-framing headers are sent.",
            "Remove HARDENING_HEADERS__ENABLED=false.",
        )
    elif not headers.hsts.enabled:
        yield finding(
            "HARDENING-HDR-001",
            "error",
            "headers.hsts.enabled",
            "HSTS is off: a network attacker can downgrade the first visit to plain HTTP.",
            "Set HARDENING_HEADERS__HSTS__ENABLED=true (it is only ever sent on HTTPS).",
        )
    elif headers.hsts.max_age < HSTS_MIN_MAX_AGE:
        yield finding(
            "HARDENING-HDR-003",
            "warning",
            "headers.hsts.max_age",
            f"HSTS max-age is {headers.hsts.max_age} s, under six months ({HSTS_MIN_MAX_AGE} s).",
            "Raise it to 63072000 (two years) once HTTPS works everywhere.",
        )


def csp_unsafe_inline_scripts(settings: RuleInput) -> Iterator[Finding]:
    """HARDENING-HDR-002: an enforced CSP lets inline scripts run (``'unsafe-inline'``).

    ``'unsafe-inline'`` next to a nonce or hash is ignored by browsers and not reported.
    In the ``docs`` profile it is a warning. The defaults pass: every default profile,
    the docs one included (self-hosted Swagger UI with nonces), is nonce-based.
    """
    headers = settings.headers
    if not headers.enabled:
        return
    for name in _PROFILES:
        text = headers.profile(name).csp
        if text is None:
            continue
        directives = parse_policy(text)
        sources = directives.get("script-src") or directives.get("default-src") or ()
        if "'unsafe-inline'" not in sources:
            continue
        if any(s == NONCE_SOURCE or s.startswith(("'nonce-", "'sha256-", "'sha384-", "'sha512-")) for s in sources):
            continue
        yield finding(
            "HARDENING-HDR-002",
            "warning" if name == "docs" else "error",
            f"headers.{name}.csp",
            f"The {name} CSP allows inline scripts ('unsafe-inline'), so it does not stop XSS.",
            "Use the 'nonce' source with 'strict-dynamic' and put nonce=\"{{ csp_nonce(request) }}\" on scripts.",
        )


CHECKS: Final[tuple[Rule, ...]] = (hsts_off, csp_unsafe_inline_scripts)
"""The production rules of the security-headers layer."""
