"""Offline MDN HTTP Observatory (v6) grading."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hardening.headers import SecurityHeadersMiddleware
from hardening.testing import OBSERVATORY_ORIGIN, assert_hardened, grade_headers

GOOD = {
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'; form-action 'none'",
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-origin",
    "content-type": "application/json",
}


def result(headers: dict[str, str], test: str, **kwargs: object) -> str:
    return grade_headers(headers, **kwargs).tests[test].result  # type: ignore[arg-type]


def test_bare_response_scores_f() -> None:
    grade = grade_headers({"content-type": "application/json"})
    # CSP -25, HSTS -20, XCTO -5, XFO -20 => 30
    assert grade.score == 30
    assert grade.grade == "D"


def test_good_response_gets_bonuses() -> None:
    grade = grade_headers(GOOD)
    # 100 + CSP none 10 + referrer 5 + XFO via CSP 5 + CORP 10
    assert grade.score == 130
    assert grade.grade == "A+"
    assert not grade.tests["redirection"].applicable


def test_bonuses_only_when_penalties_leave_ninety() -> None:
    grade = grade_headers({**GOOD, "x-content-type-options": "sniff", "strict-transport-security": "max-age=60"})
    assert grade.score == 85  # 100 - 5 - 10, no bonus
    assert grade.grade == "A-"


@pytest.mark.parametrize(
    ("csp", "expected"),
    [
        ("default-src 'self'; script-src 'self' 'unsafe-inline'", "csp-implemented-with-unsafe-inline"),
        ("default-src 'self'; script-src 'nonce-abc' 'unsafe-inline'", "csp-implemented-with-no-unsafe"),
        ("script-src 'strict-dynamic'; object-src 'none'", "csp-header-invalid"),
        ("default-src 'self'; script-src 'nonce-a' 'strict-dynamic' https:", "csp-implemented-with-no-unsafe"),
        ("default-src 'self'; style-src 'unsafe-inline'", "csp-implemented-with-unsafe-inline-in-style-src-only"),
        ("default-src 'self' 'unsafe-eval'", "csp-implemented-with-unsafe-eval"),
        ("default-src 'self' http://cdn.example", "csp-implemented-with-insecure-scheme"),
        (
            "default-src 'self'; img-src http://i.example",
            "csp-implemented-with-insecure-scheme-in-passive-content-only",
        ),
        ("default-src 'self'; default-src 'none'", "csp-header-invalid"),
        ("img-src 'self'", "csp-implemented-with-unsafe-inline"),  # script-src unrestricted
    ],
)
def test_csp_rules(csp: str, expected: str) -> None:
    assert result({"content-security-policy": csp}, "content-security-policy") == expected


def test_report_only_csp_alone_is_not_enough() -> None:
    headers = {"content-security-policy-report-only": "default-src 'none'"}
    assert result(headers, "content-security-policy") == "csp-not-implemented-but-reporting-enabled"


def test_hsts_rules() -> None:
    assert result({}, "strict-transport-security") == "hsts-not-implemented"
    assert result({"strict-transport-security": "includeSubDomains"}, "strict-transport-security") == (
        "hsts-header-invalid"
    )
    assert grade_headers({}, url="http://localhost:8000/").tests["strict-transport-security"].applicable is False


def test_referrer_rules() -> None:
    assert result({"referrer-policy": "unsafe-url"}, "referrer-policy") == "referrer-policy-unsafe"
    assert result({"referrer-policy": "bogus, strict-origin"}, "referrer-policy") == "referrer-policy-private"
    assert result({"referrer-policy": "bogus"}, "referrer-policy") == "referrer-policy-header-invalid"


def test_xfo_rules() -> None:
    assert result({"x-frame-options": "ALLOW-FROM https://a"}, "x-frame-options") == (
        "x-frame-options-allow-from-origin"
    )
    assert result({"x-frame-options": "nope"}, "x-frame-options") == "x-frame-options-header-invalid"


def test_cookie_rules() -> None:
    def cookies(*values: str) -> str:
        return grade_headers([("set-cookie", v) for v in values] + list(GOOD.items())).tests["cookies"].result

    assert (
        cookies("sessionid=1; Secure; HttpOnly; SameSite=Lax") == "cookies-secure-with-httponly-sessions-and-samesite"
    )
    assert cookies("sessionid=1; Secure; HttpOnly") == "cookies-secure-with-httponly-sessions"
    assert cookies("sessionid=1; Secure; SameSite=Lax") == "cookies-session-without-httponly-flag"
    assert cookies("theme=dark; SameSite=Lax") == "cookies-without-secure-flag-but-protected-by-hsts"
    assert cookies("a=1; Secure; SameSite=Bogus") == "cookies-samesite-flag-invalid"
    assert cookies("csrftoken=1; Secure") == "cookies-anticsrf-without-samesite-flag"


def test_cors_universal_access_costs_fifty() -> None:
    preflight = {"access-control-allow-origin": OBSERVATORY_ORIGIN, "access-control-allow-credentials": "true"}
    grade = grade_headers(GOOD, preflight=preflight)
    assert grade.tests["cross-origin-resource-sharing"].modifier == -50
    assert grade.score == 50
    assert result({"access-control-allow-origin": "*"}, "cross-origin-resource-sharing") == (
        "cross-origin-resource-sharing-implemented-with-public-access"
    )


def test_redirection_and_sri_when_inputs_are_given() -> None:
    assert result(GOOD, "redirection", http_redirect="https://example.com/") == "redirection-to-https"
    assert result(GOOD, "redirection", http_redirect="https://other.example/") == "redirection-off-host-from-http"
    assert result(GOOD, "redirection", http_redirect=False) == "redirection-missing"
    html_headers = {**GOOD, "content-type": "text/html"}
    page = '<script src="https://cdn.example/x.js" integrity="sha384-x"></script><script src="/a.js"></script>'
    assert result(html_headers, "subresource-integrity", html=page) == (
        "sri-implemented-and-external-scripts-loaded-securely"
    )
    assert result(html_headers, "subresource-integrity", html='<script src="http://x.example/a.js"></script>') == (
        "sri-not-implemented-and-external-scripts-not-loaded-securely"
    )


@pytest.mark.anyio
@pytest.mark.needs_extras
async def test_hardened_json_response_reaches_a_plus_including_the_cors_probe() -> None:
    async def view(request: Request) -> Response:
        return JSONResponse({"ok": True})

    app = SecurityHeadersMiddleware(Starlette(routes=[Route("/", view)]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example.com") as client:
        response = await client.get("/")
        probe = await client.options(
            "/", headers={"origin": OBSERVATORY_ORIGIN, "access-control-request-method": "GET"}
        )
    grade = grade_headers(response, preflight=probe)
    assert grade.score >= 100
    assert grade.grade == "A+"
    assert_hardened(response, "api")


def test_assert_hardened_lists_every_problem() -> None:
    with pytest.raises(AssertionError) as info:
        assert_hardened([("server", "uvicorn"), ("x-frame-options", "DENY"), ("x-frame-options", "DENY")])
    message = str(info.value)
    assert "headers sent more than once: x-frame-options" in message
    assert "leaky header present: server" in message
    assert "nosniff" in message
    assert "Observatory score" in message
