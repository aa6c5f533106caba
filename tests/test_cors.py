"""CORS: request classification, preflights, Vary, credentials, origin matching, rules."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from hardening import HardeningSettings, build_layer
from hardening._asgi import apply_error_response_editors
from hardening.checks import run_checks
from hardening.cors import CORSConfig, CORSMiddleware, CORSRule, broad_regex_reason, merge_vary
from hardening.errors import ConfigurationError
from tests.asgi_call import answering, answering_shaped, call, http_scope

pytestmark = pytest.mark.anyio

APP = "https://app.example.com"


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    """Answer 200 with a Vary of its own, and record that it ran."""
    scope.setdefault("state", {})["app_ran"] = True
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"vary", b"Accept-Encoding")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello"})


def client(config: CORSConfig, app: Any = echo_app) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=CORSMiddleware(app, config)), base_url="http://testserver"
    )


def vary_tokens(response: httpx.Response) -> list[str]:
    return [t.strip() for v in response.headers.get_list("vary") for t in v.split(",") if t.strip()]


def preflight_headers(origin: str = APP, method: str = "PUT", **extra: str) -> dict[str, str]:
    return {"origin": origin, "access-control-request-method": method, **extra}


# --- E1 request classification ----------------------------------------------------------


async def test_default_config_sends_no_cors_header_and_refuses_preflights() -> None:
    config = CORSConfig()
    assert config.enabled
    async with client(config) as c:
        simple = await c.get("/", headers={"origin": APP})
        preflight = await c.options("/", headers=preflight_headers())
    assert simple.status_code == 200
    assert not [k for k in simple.headers if k.startswith("access-control-")]
    assert preflight.status_code == 403
    assert not [k for k in preflight.headers if k.startswith("access-control-")]


async def test_no_origin_is_not_cors_but_still_varies_on_origin() -> None:
    async with client(CORSConfig(allow_origins=[APP])) as c:
        response = await c.get("/")
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-expose-headers" not in response.headers
    assert vary_tokens(response) == ["Accept-Encoding", "Origin"]


async def test_options_without_request_method_reaches_the_app() -> None:
    scope = http_scope("OPTIONS", headers=[(b"origin", APP.encode())])
    result = await call(CORSMiddleware(echo_app, CORSConfig(allow_origins=[APP])), scope)
    assert scope["state"]["app_ran"] is True
    assert result.status == 200
    assert result.headers["access-control-allow-origin"] == APP


async def test_preflight_never_runs_the_app() -> None:
    scope = http_scope("OPTIONS", headers=[(b"origin", APP.encode()), (b"access-control-request-method", b"GET")])
    result = await call(CORSMiddleware(echo_app, CORSConfig(allow_origins=[APP])), scope)
    assert "app_ran" not in scope["state"]
    assert result.status == 200


async def test_non_http_scopes_pass_through_untouched() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    middleware = CORSMiddleware(app, CORSConfig(allow_origins=[APP]))
    await middleware({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    await middleware({"type": "websocket", "path": "/", "headers": []}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan", "websocket"]


# --- E2 preflight responses -------------------------------------------------------------


async def test_allowed_preflight_answers_everything_the_browser_needs() -> None:
    config = CORSConfig(allow_origins=[APP], allow_credentials=True, max_age=120)
    async with client(config) as c:
        response = await c.options(
            "/items", headers=preflight_headers(**{"access-control-request-headers": "Content-Type, ,x-request-id"})
        )
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"
    assert response.headers["access-control-allow-origin"] == APP
    assert response.headers["access-control-allow-methods"] == "GET, HEAD, POST, PUT, PATCH, DELETE"
    assert response.headers["access-control-allow-headers"] == "Authorization, Content-Type, X-Request-ID"
    assert response.headers["access-control-max-age"] == "120"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert vary_tokens(response) == ["Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"]
    assert "access-control-expose-headers" not in response.headers


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (preflight_headers(origin="https://evil.example"), "origin"),
        (preflight_headers(method="put"), "method"),  # methods are case-sensitive
        (preflight_headers(method="PROPFIND"), "method"),
        (preflight_headers(**{"access-control-request-headers": "content-type, x-secret"}), "headers"),
        (preflight_headers(**{"access-control-request-private-network": "true"}), "private network"),
    ],
)
async def test_refused_preflight_is_403_problem_without_allow_headers(headers: dict[str, str], reason: str) -> None:
    async with client(CORSConfig(allow_origins=[APP], allow_credentials=True)) as c:
        response = await c.options("/", headers=headers)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert not [k for k in response.headers if k.startswith("access-control-")]
    body = response.json()
    assert body["status"] == 403
    assert body["type"] == "urn:hardening:problem:cors-preflight-rejected"
    assert reason in body["detail"]
    assert "evil" not in response.text  # the request's values are never echoed


async def test_wildcard_methods_and_headers_mirror_the_request() -> None:
    config = CORSConfig(allow_origins=[APP], allow_methods=["*"], allow_headers=["*"], allow_credentials=True)
    async with client(config) as c:
        response = await c.options(
            "/", headers=preflight_headers(method="PROPFIND", **{"access-control-request-headers": "X-A, x-b"})
        )
    assert response.status_code == 200
    # A literal "*" is not a wildcard for credentialed requests: mirror instead.
    assert response.headers["access-control-allow-methods"] == "PROPFIND"
    assert response.headers["access-control-allow-headers"] == "x-a, x-b"


async def test_private_network_access_when_enabled() -> None:
    config = CORSConfig(allow_origins=[APP], allow_private_network=True)
    async with client(config) as c:
        response = await c.options("/", headers=preflight_headers(**{"access-control-request-private-network": "true"}))
        plain = await c.options("/", headers=preflight_headers())
    assert response.status_code == 200
    assert response.headers["access-control-allow-private-network"] == "true"
    assert "Access-Control-Request-Private-Network" in vary_tokens(response)
    assert "access-control-allow-private-network" not in plain.headers


async def test_observatory_probe_gets_no_reflection_with_credentials() -> None:
    config = CORSConfig(allow_origins=[APP], allow_credentials=True)
    async with client(config) as c:
        response = await c.options(
            "/", headers=preflight_headers(origin="https://http-observatory.security.mozilla.org", method="GET")
        )
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers


# --- E3 actual responses ----------------------------------------------------------------


async def test_allowed_origin_gets_origin_credentials_and_exposed_headers() -> None:
    async with client(CORSConfig(allow_origins=[APP], allow_credentials=True)) as c:
        response = await c.get("/", headers={"origin": APP})
    assert response.headers.get_list("access-control-allow-origin") == [APP]
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-expose-headers"] == "RateLimit, RateLimit-Policy, Retry-After, X-Request-ID"
    assert vary_tokens(response) == ["Accept-Encoding", "Origin"]


async def test_disallowed_origin_gets_no_cors_header_but_vary() -> None:
    async with client(CORSConfig(allow_origins=[APP], allow_credentials=True)) as c:
        response = await c.get("/", headers={"origin": "https://evil.example"})
    assert response.status_code == 200
    assert not [k for k in response.headers if k.startswith("access-control-")]
    assert vary_tokens(response) == ["Accept-Encoding", "Origin"]


async def test_wildcard_without_credentials_sends_star_and_needs_no_vary() -> None:
    async with client(CORSConfig(allow_origins=["*"])) as c:
        with_origin = await c.get("/", headers={"origin": "https://anyone.example"})
        without = await c.get("/")
        preflight = await c.options("/", headers=preflight_headers(origin="null"))
    assert with_origin.headers["access-control-allow-origin"] == "*"
    assert without.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in with_origin.headers
    assert vary_tokens(with_origin) == ["Accept-Encoding"]
    assert preflight.headers["access-control-allow-origin"] == "*"


async def test_vary_is_merged_across_fields_and_star_is_kept() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"vary", b"accept-encoding"), (b"Vary", b"Origin, Cookie")]
        if scope["path"] == "/star":
            headers = [(b"vary", b"*")]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    middleware = CORSMiddleware(app, CORSConfig(allow_origins=[APP]))
    result = await call(middleware, http_scope(headers=[(b"origin", APP.encode())]))
    varies = [v for k, v in result.starts[0]["headers"] if k.lower() == b"vary"]
    assert varies == [b"accept-encoding, Origin, Cookie"]
    star = await call(middleware, http_scope(path="/star", headers=[(b"origin", APP.encode())]))
    assert [v for k, v in star.starts[0]["headers"] if k == b"vary"] == [b"*"]


async def test_the_app_reusing_one_header_list_gets_the_same_headers_every_time() -> None:
    shared = [(b"content-type", b"application/json"), (b"vary", b"Accept-Encoding")]
    snapshot = list(shared)
    middleware = CORSMiddleware(answering(shared, b"{}"), CORSConfig(allow_origins=[APP], allow_credentials=True))
    for _ in range(3):
        result = await call(middleware, http_scope(headers=[(b"origin", APP.encode())]))
        assert result.headers["access-control-allow-origin"] == APP
        assert result.headers["vary"] == "Accept-Encoding, Origin"
    assert shared == snapshot  # the app's list is never edited in place


@pytest.mark.parametrize("shape", ["missing", "none", "tuple", "generator"])
async def test_any_shape_of_app_headers_gets_the_same_headers(shape: str) -> None:
    pairs = [(b"content-type", b"text/plain"), (b"Access-Control-Allow-Origin", b"*")]
    app = answering_shaped(pairs, shape)

    result = await call(
        CORSMiddleware(app, CORSConfig(allow_origins=[APP])), http_scope(headers=[(b"origin", APP.encode())])
    )
    sent = result.starts[0]["headers"]
    assert [value for key, value in sent if key.lower() == b"access-control-allow-origin"] == [APP.encode()]
    assert (b"vary", b"Origin") in sent


@pytest.mark.parametrize(("methods", "status"), [((b"PROPFIND", b"GET"), 200), ((b"GET", b"PROPFIND"), 403)])
async def test_a_preflight_reads_the_last_request_method_field(methods: tuple[bytes, ...], status: int) -> None:
    headers = [(b"access-control-request-method", methods[0]), (b"origin", APP.encode())]
    headers.append((b"access-control-request-method", methods[1]))
    result = await call(
        CORSMiddleware(echo_app, CORSConfig(allow_origins=[APP])), http_scope("OPTIONS", headers=headers)
    )
    assert result.status == status


def test_merge_vary_adds_nothing_twice() -> None:
    merged = merge_vary([(b"vary", b"origin"), (b"x", b"1")], ["Origin", "Access-Control-Request-Method"])
    assert merged == [(b"x", b"1"), (b"vary", b"origin, Access-Control-Request-Method")]


async def test_app_set_cors_headers_are_replaced_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"access-control-allow-origin", b"*"), (b"Access-Control-Allow-Credentials", b"true")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    caplog.set_level(logging.WARNING, logger="hardening.cors")
    async with client(CORSConfig(allow_origins=[APP]), app) as c:
        allowed = await c.get("/", headers={"origin": APP})
        denied = await c.get("/", headers={"origin": "https://evil.example"})
    assert allowed.headers.get_list("access-control-allow-origin") == [APP]
    assert "access-control-allow-credentials" not in allowed.headers
    assert not [k for k in denied.headers if k.startswith("access-control-")]
    assert len([r for r in caplog.records if "Access-Control" in r.getMessage()]) == 1


@pytest.mark.parametrize("status", [401, 404, 413, 429, 500, 503])
async def test_error_statuses_from_inside_carry_cors_headers(status: int) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async with client(CORSConfig(allow_origins=[APP]), app) as c:
        response = await c.post("/", headers={"origin": APP})
    assert response.status_code == status
    assert response.headers["access-control-allow-origin"] == APP


async def test_streaming_and_head_responses_carry_cors_headers() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for chunk in (b"a", b"b"):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async with client(CORSConfig(allow_origins=[APP]), app) as c:
        streamed = await c.get("/", headers={"origin": APP})
        head = await c.head("/", headers={"origin": APP})
    assert streamed.content == b"ab"
    assert streamed.headers["access-control-allow-origin"] == APP
    assert head.headers["access-control-allow-origin"] == APP


async def test_unhandled_exception_registers_cors_headers_for_the_error_guard() -> None:
    async def boom(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("kaput")

    scope = http_scope(headers=[(b"origin", APP.encode())])
    with pytest.raises(RuntimeError):
        await call(CORSMiddleware(boom, CORSConfig(allow_origins=[APP])), scope)
    message: dict[str, Any] = {"type": "http.response.start", "status": 500, "headers": []}
    apply_error_response_editors(scope, message)
    assert (b"access-control-allow-origin", APP.encode()) in message["headers"]


# --- E4 origin matching -----------------------------------------------------------------

BYPASSES = [
    "https://example.com.evil.com",
    "https://evilexample.com",
    "https://example.com.",
    "http://example.com",
    "https://example.com:8443",
    "https://EXAMPLE.com",
    "null",
    "https://example.com%60.evil.com",
    "https://sub.example.com@evil.com",
    "https://example.com/",
    "",
    "https://example.com, https://evil.com",
    "https://example.com https://evil.com",
]


@pytest.mark.parametrize("origin", BYPASSES)
async def test_bypass_corpus_is_rejected(origin: str) -> None:
    config = CORSConfig(allow_origins=["https://example.com"], allow_credentials=True)
    async with client(config) as c:
        response = await c.get("/", headers={"origin": origin})
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://a.example.com", True),
        ("https://a.b.example.com", True),
        ("https://example.com", False),
        ("https://badexample.com", False),
        ("http://a.example.com", False),
        ("https://a.example.com:8443", False),
        ("https://a.example.com.evil.com", False),
        ("https://x@a.example.com", False),
    ],
)
async def test_subdomain_pattern(origin: str, allowed: bool) -> None:
    async with client(CORSConfig(allow_origins=["https://*.example.com"])) as c:
        response = await c.get("/", headers={"origin": origin})
    assert ("access-control-allow-origin" in response.headers) is allowed


async def test_two_origin_fields_match_nothing() -> None:
    scope = http_scope(headers=[(b"origin", APP.encode()), (b"origin", APP.encode())])
    result = await call(CORSMiddleware(echo_app, CORSConfig(allow_origins=[APP])), scope)
    assert "access-control-allow-origin" not in result.headers


async def test_null_origin_only_when_listed() -> None:
    async with client(CORSConfig(allow_origins=["null"])) as c:
        listed = await c.get("/", headers={"origin": "null"})
    async with client(CORSConfig(allow_origins=[APP])) as c:
        unlisted = await c.get("/", headers={"origin": "null"})
    assert listed.headers["access-control-allow-origin"] == "null"
    assert "access-control-allow-origin" not in unlisted.headers


async def test_regex_is_matched_in_full_on_well_formed_origins_only() -> None:
    config = CORSConfig(allow_origin_regex=[r"https://pr-[0-9]+\.preview\.example\.com"])
    async with client(config) as c:
        good = await c.get("/", headers={"origin": "https://pr-42.preview.example.com"})
        suffix = await c.get("/", headers={"origin": "https://pr-42.preview.example.com.evil.com"})
    assert good.headers["access-control-allow-origin"] == "https://pr-42.preview.example.com"
    assert "access-control-allow-origin" not in suffix.headers


def test_origins_are_normalised() -> None:
    config = CORSConfig(allow_origins=["HTTPS://App.Example.com:443", "http://localhost:80", "https://app.example.com"])
    assert config.allow_origins == ("https://app.example.com", "http://localhost")


# --- configuration errors ---------------------------------------------------------------


def test_wildcard_with_credentials_stops_start_up() -> None:
    with pytest.raises(ValidationError, match="HARDENING_CORS__ALLOW_ORIGINS"):
        CORSConfig(allow_origins=["*"], allow_credentials=True)
    unchecked = CORSConfig.model_construct(allow_origins=("*",), allow_credentials=True)
    with pytest.raises(ConfigurationError, match="HARDENING_CORS__ALLOW_ORIGINS"):
        CORSMiddleware(echo_app, unchecked)


def test_wildcard_with_credentials_through_a_rule_is_refused() -> None:
    with pytest.raises(ValidationError, match="HARDENING_CORS__ALLOW_ORIGINS"):
        CORSConfig(allow_credentials=True, rules=[CORSRule(path="/public", allow_origins=["*"])])


def test_wildcard_with_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDENING_CORS__ALLOW_ORIGINS", '["*"]')
    monkeypatch.setenv("HARDENING_CORS__ALLOW_CREDENTIALS", "true")
    with pytest.raises(ConfigurationError, match="HARDENING_CORS__ALLOW_ORIGINS"):
        HardeningSettings()


@pytest.mark.parametrize(
    "origin",
    ["https://example.com/", "example.com", "https://example.com/path", "https://exa mple.com", "https://*", "*.x"],
)
def test_malformed_origins_are_refused_with_the_env_var(origin: str) -> None:
    with pytest.raises(ValidationError, match=r"(?s)^(?!.*HARDENING_).*\ballow_origins\b"):
        CORSConfig(allow_origins=[origin])


def test_star_must_be_alone() -> None:
    with pytest.raises(ValidationError, match="only entry"):
        CORSConfig(allow_origins=["*", APP])
    with pytest.raises(ValidationError, match=r"(?s)^(?!.*HARDENING_).*\ballow_methods\b"):
        CORSConfig(allow_methods=["*", "GET"])


@pytest.mark.parametrize(
    "regex",
    [
        r"https://.*\.example\.com",
        r"https://example\.com.+",
        r"https://example\.com.{1,}",
        r"https://[^/]+\.example\.com",
        r"https://\S+",
        r"https://example\.com[a-z.]*",
    ],
)
def test_broad_regexes_are_refused(regex: str) -> None:
    assert broad_regex_reason(regex) is not None
    with pytest.raises(ValidationError, match=r"(?s)^(?!.*HARDENING_).*\ballow_origin_regex\b"):
        CORSConfig(allow_origin_regex=[regex])


@pytest.mark.parametrize(
    "regex",
    [r"https://[a-z0-9-]+\.example\.com", r"https://[a-z.]+\.example\.com(:[0-9]+)?", r"https://(a|b)\.x\.org"],
)
def test_reasonable_regexes_are_accepted(regex: str) -> None:
    assert CORSConfig(allow_origin_regex=[regex]).allow_origin_regex == (regex,)


def test_invalid_regex_and_tokens_are_refused() -> None:
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        CORSConfig(allow_origin_regex=["https://(x"])
    with pytest.raises(ValidationError, match=r"(?s)^(?!.*HARDENING_).*\ballow_headers\b"):
        CORSConfig(allow_headers=["Bad Header"])
    with pytest.raises(ValidationError, match="max_age"):
        CORSConfig(max_age=-1)


# --- per-path rules ---------------------------------------------------------------------


async def test_longest_path_rule_wins_and_inherits_unset_fields() -> None:
    config = CORSConfig(
        allow_origins=[APP],
        max_age=77,
        rules=[
            CORSRule(path="/public", allow_origins=["*"]),
            CORSRule(path="/public/private", allow_origins=["https://admin.example.com"], allow_credentials=True),
        ],
    )
    async with client(config) as c:
        public = await c.get("/public/x", headers={"origin": "https://anyone.example"})
        private = await c.get("/public/private/y", headers={"origin": "https://admin.example.com"})
        private_app = await c.get("/public/private", headers={"origin": APP})
        other = await c.get("/publicity", headers={"origin": "https://anyone.example"})
        pre = await c.options("/public/a", headers=preflight_headers(origin="https://x.example"))
    assert public.headers["access-control-allow-origin"] == "*"
    assert private.headers["access-control-allow-origin"] == "https://admin.example.com"
    assert private.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in private_app.headers
    assert "access-control-allow-origin" not in other.headers
    assert pre.headers["access-control-max-age"] == "77"


def test_rules_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDENING_CORS__ALLOW_ORIGINS", '["https://app.example.com"]')
    monkeypatch.setenv("HARDENING_CORS__RULES", '[{"path": "/open", "allow_origins": ["*"]}]')
    settings = HardeningSettings()
    assert settings.cors.allow_origins == (APP,)
    assert settings.cors.rules[0].allow_origins == ("*",)


def test_disabled_build_returns_the_app() -> None:
    assert build_layer(echo_app, CORSConfig(enabled=False)) is echo_app


# --- production rules -------------------------------------------------------------------


def ids(settings: HardeningSettings) -> set[str]:
    return {f.id for f in run_checks(settings) if f.id.startswith("HARDENING-CORS")}


def test_production_rules() -> None:
    risky = HardeningSettings(
        environment="production",
        cors=CORSConfig(
            allow_origins=["null", "http://app.example.com", "https://localhost:3000"],
            allow_origin_regex=[r"https://app.example\.com"],
            rules=[CORSRule(path="/open", allow_origins=["*"])],
        ),
    )
    # the unescaped dot also leaves only '.com' provable at the end of the regex (006)
    assert ids(risky) == {f"HARDENING-CORS-00{n}" for n in (2, 3, 4, 5, 6)}
    assert ids(HardeningSettings(environment="production", cors=CORSConfig(allow_origins=[APP]))) == set()
    dev = HardeningSettings(environment="development", cors=CORSConfig(allow_origins=["http://localhost:3000"]))
    assert ids(dev) == set()


def test_finding_env_vars_point_at_the_setting() -> None:
    settings = HardeningSettings(
        environment="production",
        cors=CORSConfig(allow_origins=["null"], rules=[CORSRule(path="/x", allow_origin_regex=[r"https://a.b\.com"])]),
    )
    found = {(f.id, f.setting, f.env_var) for f in run_checks(settings) if f.id.startswith("HARDENING-CORS")}
    assert found == {
        ("HARDENING-CORS-003", "cors.allow_origins", "HARDENING_CORS__ALLOW_ORIGINS"),
        ("HARDENING-CORS-002", "cors.rules[0].allow_origin_regex", "HARDENING_CORS__RULES"),
        ("HARDENING-CORS-006", "cors.rules[0].allow_origin_regex", "HARDENING_CORS__RULES"),
    }
    escaped = HardeningSettings(
        environment="production",
        cors=CORSConfig(allow_origin_regex=[r"https://a[.]b\.example\.com", r"https://x\.y\.com"]),
    )
    assert ids(escaped) == set()
    assert (
        ids(HardeningSettings(environment="production", cors=CORSConfig(enabled=False, allow_origins=["null"])))
        == set()
    )


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://[::1]:3000", True),
        ("http://[::1]:3001", False),
        ("http://[0::1]:3000", False),  # not the serialized form
        ("https://[2001:db8::5]", True),
        ("https://[2001:db8::5]:443", False),  # default port spelled out
        ("https://[zz::1]", False),
        ("https://[1:2:3]", False),
        ("https://a.example.com:99999", False),
    ],
)
async def test_ipv6_and_port_origins(origin: str, allowed: bool) -> None:
    config = CORSConfig(
        allow_origins=["http://[::1]:3000", "https://[2001:db8::5]:443"],
        allow_origin_regex=[r"https://\[[0-9a-f:]+\]", r"https://a\.example\.com:[0-9]+"],
    )
    async with client(config) as c:
        response = await c.get("/", headers={"origin": origin})
    assert ("access-control-allow-origin" in response.headers) is allowed


@pytest.mark.parametrize("origin", ["https://[zz::1]", "https://[1:2:3]", "https://*.[::1]", "https://a.com:70000"])
def test_invalid_ipv6_and_port_entries_are_refused(origin: str) -> None:
    with pytest.raises(ValidationError, match=r"(?s)^(?!.*HARDENING_).*\ballow_origins\b"):
        CORSConfig(allow_origins=[origin])


def test_over_broad_regex_is_refused_by_the_middleware_too() -> None:
    unchecked = CORSConfig.model_construct(allow_origin_regex=(".*",), allow_origins=(), rules=())
    with pytest.raises(ConfigurationError, match=r"(?s)^(?!.*HARDENING_).*too broad"):
        CORSMiddleware(echo_app, unchecked)
