"""The Observatory's individual tests (``src/analyzer/tests/*.js``), one function each.

Each takes the response's ``(lower-case name, value)`` header pairs and returns the
Observatory's result ID; :func:`hardening.observatory.grade_headers` scores them.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Final
from urllib.parse import urlsplit

from hardening.headers.csp import split_policy

__all__ = (
    "OBSERVATORY_ORIGIN",
    "all_values",
    "cookie_test",
    "cors_test",
    "csp_test",
    "first_value",
    "hsts_test",
    "redirect_test",
    "referrer_test",
    "sri_test",
    "xfo_test",
)

OBSERVATORY_ORIGIN: Final = "https://http-observatory.security.mozilla.org"
"""The ``Origin`` the Observatory sends in its CORS probe (``OPTIONS`` + ``ACRM: GET``)."""

_HSTS_SIX_MONTHS: Final = 15_768_000
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


def all_values(pairs: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in pairs if key == name]


def first_value(pairs: list[tuple[str, str]], name: str) -> str | None:
    values = all_values(pairs, name)
    return values[0] if values else None


class _Invalid(ValueError):
    pass


def parse_csp(policies: list[str]) -> dict[str, set[str]]:
    """Parse like ``cspParser.js`` (first policy; duplicates other than reporting are invalid)."""
    csp: dict[str, set[str]] = {}
    for index, policy in enumerate(policies):
        text = policy.replace("\r", "").replace("\n", "").strip()
        if len(text) < len("img-src") - 1:
            raise _Invalid(text)
        seen: set[str] = set()
        for directive, tokens in split_policy(text):
            if directive in seen and directive not in ("report-uri", "report-to"):
                raise _Invalid(directive)
            seen.add(directive)
            sources = {token.lower() for token in tokens}
            if not sources and directive.endswith("-src"):
                sources = {"'none'"}
            if index == 0:
                csp.setdefault(directive, sources)
            elif directive in csp:
                csp[directive] &= sources or csp[directive]
            else:
                csp[directive] = sources
    return csp


def csp_test(pairs: list[tuple[str, str]], https: bool) -> tuple[str, dict[str, set[str]]]:
    policies = [part.strip() for value in all_values(pairs, "content-security-policy") for part in value.split(",")]
    if not policies:
        reporting = first_value(pairs, "content-security-policy-report-only")
        return ("csp-not-implemented-but-reporting-enabled" if reporting else "csp-not-implemented"), {}
    try:
        csp = parse_csp(policies)
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


def hsts_test(pairs: list[tuple[str, str]]) -> str:
    value = first_value(pairs, "strict-transport-security")
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


def cookie_test(pairs: list[tuple[str, str]], hsts: bool) -> str:
    cookies = all_values(pairs, "set-cookie")
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


def cors_test(pairs: list[tuple[str, str]], preflight: list[tuple[str, str]] | None) -> str:
    if (first_value(pairs, "access-control-allow-origin") or "").strip() == "*":
        return "cross-origin-resource-sharing-implemented-with-public-access"
    for source in (preflight, pairs):
        if source is None:
            continue
        origin = (first_value(source, "access-control-allow-origin") or "").strip()
        credentials = (first_value(source, "access-control-allow-credentials") or "").strip().lower()
        if origin == OBSERVATORY_ORIGIN and credentials == "true":
            return "cross-origin-resource-sharing-implemented-with-universal-access"
    if first_value(pairs, "access-control-allow-origin") or (
        preflight is not None and first_value(preflight, "access-control-allow-origin")
    ):
        return "cross-origin-resource-sharing-implemented-with-restricted-access"
    return "cross-origin-resource-sharing-not-implemented"


def redirect_test(location: str | bool, host: str) -> str:
    if location is False or location is True or not location:
        return "redirection-missing"
    target = urlsplit(str(location))
    if target.scheme != "https":
        return "redirection-not-to-https"
    return "redirection-to-https" if (target.hostname or host) == host else "redirection-off-host-from-http"


def referrer_test(pairs: list[tuple[str, str]]) -> str:
    value = first_value(pairs, "referrer-policy")
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


def sri_test(html: str, origin: str) -> str:
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


def xfo_test(value: str | None, frame_ancestors: bool) -> str:
    if frame_ancestors:
        return "x-frame-options-implemented-via-csp"
    if value is None:
        return "x-frame-options-not-implemented"
    xfo = value.strip().lower()
    if xfo in ("deny", "sameorigin"):
        return "x-frame-options-sameorigin-or-deny"
    return "x-frame-options-allow-from-origin" if xfo.startswith("allow-from") else "x-frame-options-header-invalid"
