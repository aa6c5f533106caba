"""Helpers for your own tests: offline header grading and hardening assertions.

:func:`grade_headers` scores a response the way the MDN HTTP Observatory's published
algorithm (version 6, ``mdn/mdn-http-observatory``: ``src/scanner/index.js``,
``src/grader/charts.js``, ``src/analyzer/tests/*.js``) does, without any network access:
100 points, minus penalties, plus bonuses only when the penalised score is still 90 or
more. Tests that need more than the response (the plain-HTTP redirect, the page's HTML)
are "not applicable" unless you pass that input.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit

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

OBSERVATORY_ORIGIN: Final = "https://http-observatory.security.mozilla.org"
"""The ``Origin`` the Observatory sends in its CORS probe (``OPTIONS`` + ``ACRM: GET``)."""

ALGORITHM_VERSION: Final = 6
"""The Observatory scoring algorithm implemented here."""

_EXTRA_CREDIT_MIN: Final = 90
_HSTS_SIX_MONTHS: Final = 15_768_000
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
_BROAD: Final = frozenset({"ftp:", "http:", "https:", "*", "http://*", "http://*.*", "https://*", "https://*.*"})
_UNSAFE_INLINE: Final = frozenset({"'unsafe-inline'", "data:"})
_NONCE_HASH: Final = ("'sha256-", "'sha384-", "'sha512-", "'nonce-")
_REFERRER_GOOD: Final = frozenset({"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"})
_REFERRER_BAD: Final = frozenset({"origin", "origin-when-cross-origin", "unsafe-url", "no-referrer-when-downgrade"})
_COOKIE_ORDER: Final = (
    "cookies-without-secure-flag-but-protected-by-hsts",
    "cookies-without-secure-flag",
    "cookies-session-without-secure-flag-but-protected-by-hsts",
    "cookies-samesite-flag-invalid",
    "cookies-anticsrf-without-samesite-flag",
    "cookies-session-without-httponly-flag",
    "cookies-session-without-secure-flag",
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


def _pairs(headers: Any) -> list[tuple[str, str]]:
    """Normalise a response, mapping, httpx/Starlette headers or raw ASGI pairs."""
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


def _all(pairs: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in pairs if key == name]


def _first(pairs: list[tuple[str, str]], name: str) -> str | None:
    values = _all(pairs, name)
    return values[0] if values else None


class _Invalid(ValueError):
    pass


def _parse_csp(policies: list[str]) -> dict[str, set[str]]:
    """Parse like ``cspParser.js`` (first policy; duplicates other than reporting are invalid)."""
    csp: dict[str, set[str]] = {}
    for index, policy in enumerate(policies):
        text = policy.replace("\r", "").replace("\n", "").strip()
        if len(text) < len("img-src") - 1:
            raise _Invalid(text)
        seen: set[str] = set()
        for entry in text.split(";"):
            tokens = entry.split()
            if not tokens:
                continue
            directive = tokens[0].lower()
            if directive in seen and directive not in ("report-uri", "report-to"):
                raise _Invalid(directive)
            seen.add(directive)
            sources = {token.lower() for token in tokens[1:]}
            if not sources and directive.endswith("-src"):
                sources = {"'none'"}
            if index == 0:
                csp.setdefault(directive, sources)
            elif directive in csp:
                csp[directive] &= sources or csp[directive]
            else:
                csp[directive] = sources
    return csp


def _csp_test(pairs: list[tuple[str, str]], https: bool) -> tuple[str, dict[str, set[str]]]:
    policies = [part.strip() for value in _all(pairs, "content-security-policy") for part in value.split(",")]
    if not policies:
        reporting = _first(pairs, "content-security-policy-report-only")
        return ("csp-not-implemented-but-reporting-enabled" if reporting else "csp-not-implemented"), {}
    try:
        csp = _parse_csp(policies)
    except _Invalid:
        return "csp-header-invalid", {}
    if not csp:
        return "csp-not-implemented", {}
    default = csp.get("default-src")
    object_src = set(csp.get("object-src") or default or {"*"})
    script_src = set(csp.get("script-src") or default or {"*"})
    style_src = set(csp.get("style-src") or default or {"*"})
    for sources in (script_src, style_src):
        if any(s.startswith(_NONCE_HASH) for s in sources):
            sources.discard("'unsafe-inline'")
    result: str | None = None
    if "'strict-dynamic'" in script_src:
        if any(s.startswith(_NONCE_HASH) for s in script_src):
            script_src = {
                s for s in script_src if not (s.startswith(tuple(_BROAD)) or s in ("'self'", "'unsafe-inline'"))
            }
        else:
            result = "csp-header-invalid"
    active = [s for d, v in csp.items() if d not in ("img-src", "media-src", "script-src") for s in v]
    active += list(script_src)
    passive = [s for d in ("img-src", "media-src") for s in (csp.get(d) or default or set())]
    if script_src & (_BROAD | _UNSAFE_INLINE) or object_src & _BROAD:
        result = result or "csp-implemented-with-unsafe-inline"
    if https and any(s.startswith(("http:", "ftp:")) for s in active):
        result = result or "csp-implemented-with-insecure-scheme"
    if "'unsafe-eval'" in script_src | style_src:
        result = result or "csp-implemented-with-unsafe-eval"
    if https and any(s.startswith(("http:", "ftp:")) for s in passive):
        result = result or "csp-implemented-with-insecure-scheme-in-passive-content-only"
    if style_src & (_BROAD | _UNSAFE_INLINE):
        result = result or "csp-implemented-with-unsafe-inline-in-style-src-only"
    if default == {"'none'"}:
        result = result or "csp-implemented-with-no-unsafe-default-src-none"
    return result or "csp-implemented-with-no-unsafe", csp


def _hsts_test(pairs: list[tuple[str, str]]) -> str:
    value = _first(pairs, "strict-transport-security")
    if value is None:
        return "hsts-not-implemented"
    max_age: int | None = None
    for part in value.split(";"):
        key, _, raw = part.strip().partition("=")
        if key.strip().lower() == "max-age":
            try:
                max_age = int(raw.strip().strip('"'))
            except ValueError:
                return "hsts-header-invalid"
    if max_age is None:
        return "hsts-header-invalid"
    return (
        "hsts-implemented-max-age-less-than-six-months"
        if max_age < _HSTS_SIX_MONTHS
        else ("hsts-implemented-max-age-at-least-six-months")
    )


def _cookie_test(pairs: list[tuple[str, str]], hsts: bool) -> str:
    cookies = _all(pairs, "set-cookie")
    if not cookies:
        return "cookies-not-found"
    result: str | None = None

    def worse(candidate: str) -> None:
        nonlocal result
        if result is None or _COOKIE_ORDER.index(candidate) > _COOKIE_ORDER.index(result):
            result = candidate

    missing_samesite = False
    for raw in cookies:
        name = raw.split("=", 1)[0].strip().lower()
        attributes = {}
        for part in raw.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            attributes[key.strip().lower()] = value.strip().lower()
        secure, httponly = "secure" in attributes, "httponly" in attributes
        samesite = attributes.get("samesite")
        session = "login" in name or "sess" in name
        if samesite is not None and samesite not in ("lax", "strict", "none"):
            worse("cookies-samesite-flag-invalid")
        if not secure and samesite == "none":
            worse("cookies-samesite-flag-invalid")
        if not secure:
            worse("cookies-without-secure-flag-but-protected-by-hsts" if hsts else "cookies-without-secure-flag")
        if "csrf" in name and not samesite:
            worse("cookies-anticsrf-without-samesite-flag")
        if session and not secure:
            worse(
                "cookies-session-without-secure-flag-but-protected-by-hsts"
                if hsts
                else "cookies-session-without-secure-flag"
            )
        if session and not httponly:
            worse("cookies-session-without-httponly-flag")
        missing_samesite = missing_samesite or not samesite
    if result is not None:
        return result
    if missing_samesite:
        return "cookies-secure-with-httponly-sessions"
    return "cookies-secure-with-httponly-sessions-and-samesite"


def _cors_test(pairs: list[tuple[str, str]], preflight: list[tuple[str, str]] | None) -> str:
    if (_first(pairs, "access-control-allow-origin") or "").strip() == "*":
        return "cross-origin-resource-sharing-implemented-with-public-access"
    for source in (preflight, pairs):
        if source is None:
            continue
        origin = (_first(source, "access-control-allow-origin") or "").strip()
        credentials = (_first(source, "access-control-allow-credentials") or "").strip().lower()
        if origin == OBSERVATORY_ORIGIN and credentials == "true":
            return "cross-origin-resource-sharing-implemented-with-universal-access"
    if _first(pairs, "access-control-allow-origin") or (
        preflight is not None and _first(preflight, "access-control-allow-origin")
    ):
        return "cross-origin-resource-sharing-implemented-with-restricted-access"
    return "cross-origin-resource-sharing-not-implemented"


def _redirect_test(location: str | bool, host: str) -> str:
    if location is False or location is True or not location:
        return "redirection-missing"
    target = urlsplit(str(location))
    if target.scheme != "https":
        return "redirection-not-to-https"
    return "redirection-to-https" if (target.hostname or host) == host else "redirection-off-host-from-http"


def _referrer_test(pairs: list[tuple[str, str]]) -> str:
    value = _first(pairs, "referrer-policy")
    if value is None:
        return "referrer-policy-not-implemented"
    valid = [t.strip().lower() for t in value.split(",") if t.strip().lower() in _REFERRER_GOOD | _REFERRER_BAD]
    if not valid:
        return "referrer-policy-header-invalid"
    return "referrer-policy-private" if valid[-1] in _REFERRER_GOOD else "referrer-policy-unsafe"


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts.append(dict(attrs))


def _sri_test(html: str, origin: str) -> str:
    parser = _Scripts()
    parser.feed(html)
    scripts = [s for s in parser.scripts if s.get("src")]
    if not scripts:
        return "sri-not-implemented-but-no-scripts-loaded"
    base = urlsplit(origin)
    secure_all, sri_all, external = True, True, False
    for script in scripts:
        src = urlsplit(str(script["src"]))
        if src.netloc and src.netloc != base.netloc:
            external = True
            secure_all = secure_all and src.scheme == "https"
            sri_all = sri_all and bool(script.get("integrity"))
    if not external:
        return "sri-not-implemented-but-all-scripts-loaded-from-secure-origin"
    if sri_all:
        return (
            "sri-implemented-and-external-scripts-loaded-securely"
            if secure_all
            else "sri-implemented-but-external-scripts-not-loaded-securely"
        )
    return (
        "sri-not-implemented-but-external-scripts-loaded-securely"
        if secure_all
        else "sri-not-implemented-and-external-scripts-not-loaded-securely"
    )


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
    pairs = _pairs(response_or_headers)
    if url is None:
        response_url = getattr(response_or_headers, "url", None)
        url = str(response_url) if response_url is not None else "https://example.com/"
    parts = urlsplit(url)
    https = parts.scheme == "https"
    preflight_pairs = _pairs(preflight) if preflight is not None else None
    content_type = (_first(pairs, "content-type") or "").split(";")[0].strip().lower()
    results: dict[str, str | None] = {}
    csp_result, csp = _csp_test(pairs, https)
    results["content-security-policy"] = csp_result
    hsts = _hsts_test(pairs) if https else None
    results["cookies"] = _cookie_test(pairs, hsts == "hsts-implemented-max-age-at-least-six-months")
    results["cross-origin-resource-sharing"] = _cors_test(pairs, preflight_pairs)
    results["redirection"] = None if http_redirect is None else _redirect_test(http_redirect, parts.hostname or "")
    results["referrer-policy"] = _referrer_test(pairs)
    results["strict-transport-security"] = hsts
    if content_type not in ("text/html", "application/xhtml+xml"):
        results["subresource-integrity"] = "sri-not-implemented-response-not-html"
    else:
        results["subresource-integrity"] = None if html is None else _sri_test(html, f"{parts.scheme}://{parts.netloc}")
    xcto = _first(pairs, "x-content-type-options")
    results["x-content-type-options"] = (
        "x-content-type-options-not-implemented"
        if xcto is None
        else "x-content-type-options-nosniff"
        if xcto.strip().lower() == "nosniff"
        else "x-content-type-options-header-invalid"
    )
    results["x-frame-options"] = _xfo_test(_first(pairs, "x-frame-options"), "frame-ancestors" in csp)
    corp = (_first(pairs, "cross-origin-resource-policy") or "").strip().lower()
    results["cross-origin-resource-policy"] = {
        "": "cross-origin-resource-policy-not-implemented",
        "same-origin": "cross-origin-resource-policy-implemented-with-same-origin",
        "same-site": "cross-origin-resource-policy-implemented-with-same-site",
        "cross-origin": "cross-origin-resource-policy-implemented-with-cross-origin",
    }.get(corp, "cross-origin-resource-policy-header-invalid")
    return _score(results)


def _xfo_test(value: str | None, frame_ancestors: bool) -> str:
    if frame_ancestors:
        return "x-frame-options-implemented-via-csp"
    if value is None:
        return "x-frame-options-not-implemented"
    xfo = value.strip().lower()
    if xfo in ("deny", "sameorigin"):
        return "x-frame-options-sameorigin-or-deny"
    return "x-frame-options-allow-from-origin" if xfo.startswith("allow-from") else "x-frame-options-header-invalid"


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
    pairs = _pairs(response)
    grade = grade_headers(pairs, url=url or str(getattr(response, "url", "") or "https://example.com/"))
    problems: list[str] = []
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1} - {"set-cookie", "vary", "link"})
    if repeated:
        problems.append(f"headers sent more than once: {', '.join(repeated)}")
    problems.extend(f"leaky header present: {name}" for name in ("server", "x-powered-by") if name in names)
    csp = " ".join(_all(pairs, "content-security-policy"))
    problems.extend(
        f"{profile} CSP lacks {needle!r}: {csp or '(no CSP)'}"
        for needle in _PROFILE_CHECKS[profile]
        if needle not in csp
    )
    if (_first(pairs, "x-content-type-options") or "").lower() != "nosniff":
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
