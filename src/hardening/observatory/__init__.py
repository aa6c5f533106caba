"""Offline MDN HTTP Observatory grading, shared by :mod:`hardening.testing` and the audit.

:func:`grade_headers` scores a response the way the MDN HTTP Observatory's published
algorithm (version 6, ``mdn/mdn-http-observatory``: ``src/scanner/index.js``,
``src/grader/charts.js``, ``src/analyzer/tests/*.js``) does, without any network access:
100 points, minus penalties, plus bonuses only when the penalised score is still 90 or
more. Tests that need more than the response (the plain-HTTP redirect, the page's HTML)
are "not applicable" unless you pass that input. CSP is read with the same tokenizer as
the security-headers layer (:func:`hardening.headers.csp.split_policy`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from hardening.observatory._analyzers import (
    OBSERVATORY_ORIGIN,
    cookie_test,
    cors_test,
    csp_test,
    first_value,
    hsts_test,
    redirect_test,
    referrer_test,
    sri_test,
    xfo_test,
)

__all__ = (
    "ALGORITHM_VERSION",
    "MODIFIERS",
    "OBSERVATORY_ORIGIN",
    "ObservatoryGrade",
    "ObservatoryTest",
    "grade_headers",
    "header_pairs",
)

ALGORITHM_VERSION: Final = 6
"""The Observatory scoring algorithm implemented here."""

_EXTRA_CREDIT_MIN: Final = 90
_GRADES: Final = (
    (100, "A+"),
    (90, "A"),
    (85, "A-"),
    (80, "B+"),
    (70, "B"),
    (65, "B-"),
    (60, "C+"),
    (50, "C"),
    (45, "C-"),
    (40, "D+"),
    (30, "D"),
    (25, "D-"),
    (0, "F"),
)
MODIFIERS: Final[dict[str, int]] = {
    "csp-implemented-with-no-unsafe-default-src-none": 10,
    "csp-implemented-with-no-unsafe": 5,
    "csp-implemented-with-unsafe-inline-in-style-src-only": 0,
    "csp-implemented-with-insecure-scheme-in-passive-content-only": -10,
    "csp-implemented-with-unsafe-eval": -10,
    "csp-implemented-with-unsafe-inline": -20,
    "csp-implemented-with-insecure-scheme": -20,
    "csp-header-invalid": -25,
    "csp-not-implemented": -25,
    "csp-not-implemented-but-reporting-enabled": -25,
    "cookies-secure-with-httponly-sessions-and-samesite": 5,
    "cookies-secure-with-httponly-sessions": 0,
    "cookies-not-found": 0,
    "cookies-without-secure-flag-but-protected-by-hsts": -5,
    "cookies-session-without-secure-flag-but-protected-by-hsts": -10,
    "cookies-without-secure-flag": -20,
    "cookies-samesite-flag-invalid": -20,
    "cookies-anticsrf-without-samesite-flag": -20,
    "cookies-session-without-httponly-flag": -30,
    "cookies-session-without-secure-flag": -40,
    "cross-origin-resource-sharing-not-implemented": 0,
    "cross-origin-resource-sharing-implemented-with-public-access": 0,
    "cross-origin-resource-sharing-implemented-with-restricted-access": 0,
    "cross-origin-resource-sharing-implemented-with-universal-access": -50,
    "redirection-to-https": 0,
    "redirection-off-host-from-http": -5,
    "redirection-not-to-https": -20,
    "redirection-missing": -20,
    "referrer-policy-private": 5,
    "referrer-policy-not-implemented": 0,
    "referrer-policy-unsafe": -5,
    "referrer-policy-header-invalid": -5,
    "hsts-implemented-max-age-at-least-six-months": 0,
    "hsts-implemented-max-age-less-than-six-months": -10,
    "hsts-not-implemented": -20,
    "hsts-header-invalid": -20,
    "sri-implemented-and-all-scripts-loaded-securely": 5,
    "sri-implemented-and-external-scripts-loaded-securely": 5,
    "sri-not-implemented-response-not-html": 0,
    "sri-not-implemented-but-no-scripts-loaded": 0,
    "sri-not-implemented-but-all-scripts-loaded-from-secure-origin": 0,
    "sri-not-implemented-but-external-scripts-loaded-securely": -5,
    "sri-implemented-but-external-scripts-not-loaded-securely": -20,
    "sri-not-implemented-and-external-scripts-not-loaded-securely": -50,
    "x-content-type-options-nosniff": 0,
    "x-content-type-options-not-implemented": -5,
    "x-content-type-options-header-invalid": -5,
    "x-frame-options-implemented-via-csp": 5,
    "x-frame-options-sameorigin-or-deny": 0,
    "x-frame-options-allow-from-origin": 0,
    "x-frame-options-not-implemented": -20,
    "x-frame-options-header-invalid": -20,
    "cross-origin-resource-policy-implemented-with-same-origin": 10,
    "cross-origin-resource-policy-implemented-with-same-site": 10,
    "cross-origin-resource-policy-implemented-with-cross-origin": 0,
    "cross-origin-resource-policy-not-implemented": 0,
    "cross-origin-resource-policy-header-invalid": -5,
}
"""Score modifier of every Observatory result (``SCORE_TABLE`` of ``charts.js``)."""


@dataclass(frozen=True, slots=True)
class ObservatoryTest:
    """The outcome of one Observatory test.

    Attributes:
        name: The test, for example ``"content-security-policy"``.
        result: The Observatory's result ID, or ``"not-applicable"``.
        modifier: Points added to (or taken from) the score.
        applicable: ``False`` when the input needed for this test was not given.
    """

    name: str
    result: str
    modifier: int
    applicable: bool = True


@dataclass(frozen=True, slots=True)
class ObservatoryGrade:
    """An offline Observatory score.

    Attributes:
        score: The final score (can exceed 100).
        grade: ``A+`` to ``F``.
        tests: Each test's outcome, by test name.
    """

    score: int
    grade: str
    tests: dict[str, ObservatoryTest] = field(default_factory=dict)

    def penalties(self) -> list[ObservatoryTest]:
        """Return the tests that cost points."""
        return [test for test in self.tests.values() if test.modifier < 0]


def header_pairs(headers: Any) -> list[tuple[str, str]]:
    """Return ``(lower-case name, value)`` pairs of a response's headers, repeats kept.

    Accepts an ``httpx.Response`` (or anything with ``headers``), httpx/Starlette
    headers, a mapping, or ``(name, value)`` pairs as str or bytes (raw ASGI headers).
    """
    headers = getattr(headers, "headers", headers)
    if hasattr(headers, "multi_items"):
        items: Iterable[Any] = headers.multi_items()
    elif hasattr(headers, "raw") and not isinstance(headers, Mapping):
        items = headers.raw
    elif isinstance(headers, Mapping):
        items = headers.items()
    else:
        items = headers
    pairs = []
    for name, value in items:
        key = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        pairs.append((key.lower(), text))
    return pairs


def grade_headers(
    response_or_headers: Any,
    *,
    url: str | None = None,
    preflight: Any = None,
    http_redirect: str | bool | None = None,
    html: str | None = None,
) -> ObservatoryGrade:
    """Score a response's headers with the MDN HTTP Observatory algorithm (v6), offline.

    Args:
        response_or_headers: An ``httpx.Response``, a headers mapping, or
            ``(name, value)`` pairs (str or bytes). Repeated headers are respected.
        url: The URL the response answered; defaults to the response's URL, else
            ``https://example.com/``. HSTS is "not applicable" for a plain-HTTP URL.
        preflight: Headers of the answer to the Observatory's CORS probe (``OPTIONS``
            with ``Origin:`` :data:`OBSERVATORY_ORIGIN` and
            ``Access-Control-Request-Method: GET``), if you sent one.
        http_redirect: What the same URL over plain HTTP did: the ``Location`` it
            redirected to, or ``False`` when it answered without redirecting. ``None``
            (the default) leaves the redirection test out.
        html: The response body, for the Subresource Integrity test of HTML pages.

    Returns:
        The score, the grade and every test's outcome.
    """
    pairs = header_pairs(response_or_headers)
    if url is None:
        response_url = getattr(response_or_headers, "url", None)
        url = str(response_url) if response_url is not None else "https://example.com/"
    parts = urlsplit(url)
    https = parts.scheme == "https"
    preflight_pairs = header_pairs(preflight) if preflight is not None else None
    content_type = (first_value(pairs, "content-type") or "").split(";")[0].strip().lower()
    results: dict[str, str | None] = {}
    csp_result, csp = csp_test(pairs, https)
    results["content-security-policy"] = csp_result
    hsts = hsts_test(pairs) if https else None
    results["cookies"] = cookie_test(pairs, hsts == "hsts-implemented-max-age-at-least-six-months")
    results["cross-origin-resource-sharing"] = cors_test(pairs, preflight_pairs)
    results["redirection"] = None if http_redirect is None else redirect_test(http_redirect, parts.hostname or "")
    results["referrer-policy"] = referrer_test(pairs)
    results["strict-transport-security"] = hsts
    if content_type not in ("text/html", "application/xhtml+xml"):
        results["subresource-integrity"] = "sri-not-implemented-response-not-html"
    else:
        results["subresource-integrity"] = None if html is None else sri_test(html, f"{parts.scheme}://{parts.netloc}")
    xcto = first_value(pairs, "x-content-type-options")
    results["x-content-type-options"] = (
        "x-content-type-options-not-implemented"
        if xcto is None
        else "x-content-type-options-nosniff"
        if xcto.strip().lower() == "nosniff"
        else "x-content-type-options-header-invalid"
    )
    results["x-frame-options"] = xfo_test(first_value(pairs, "x-frame-options"), "frame-ancestors" in csp)
    corp = (first_value(pairs, "cross-origin-resource-policy") or "").strip().lower()
    results["cross-origin-resource-policy"] = {
        "": "cross-origin-resource-policy-not-implemented",
        "same-origin": "cross-origin-resource-policy-implemented-with-same-origin",
        "same-site": "cross-origin-resource-policy-implemented-with-same-site",
        "cross-origin": "cross-origin-resource-policy-implemented-with-cross-origin",
    }.get(corp, "cross-origin-resource-policy-header-invalid")
    return _score(results)


def _score(results: dict[str, str | None]) -> ObservatoryGrade:
    tests: dict[str, ObservatoryTest] = {}
    with_credit = uncurved = 100
    for name, result in results.items():
        if result is None:
            tests[name] = ObservatoryTest(name, "not-applicable", 0, applicable=False)
            continue
        modifier = MODIFIERS[result]
        tests[name] = ObservatoryTest(name, result, modifier)
        with_credit += modifier
        if modifier < 0:
            uncurved += modifier
    score = max(with_credit if uncurved >= _EXTRA_CREDIT_MIN else uncurved, 0)
    bucket = min(score - score % 5, 100)
    grade = next(letter for floor, letter in _GRADES if bucket >= floor)
    return ObservatoryGrade(score=score, grade=grade, tests=tests)
