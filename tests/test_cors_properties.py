"""Properties of the CORS layer: no reflection of disallowed origins, no duplicated header."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardening.cors import CORSConfig, CORSMiddleware
from hardening.cors._origins import (
    DEFAULT_PORTS,
    OriginMatcher,
    normalise_origin_entry,
    parse_origin,
    regex_host_suffix,
    wildcard_base_problem,
)
from tests.asgi_call import call, http_scope

pytestmark = pytest.mark.anyio

CONFIG = CORSConfig(
    allow_origins=["https://app.example.com", "https://*.example.org", "http://localhost:3000"],
    allow_origin_regex=[r"https://pr-[0-9]+\.preview\.example\.net"],
    allow_credentials=True,
)
MIDDLEWARE_APP_HEADERS = [
    (b"vary", b"Accept-Encoding"),
    (b"access-control-allow-origin", b"*"),
    (b"content-type", b"text/plain"),
]


def oracle(origin: str) -> bool:
    """An independent statement of CONFIG's allow-list."""
    if origin in ("https://app.example.com", "http://localhost:3000"):
        return True
    if re.fullmatch(r"https://([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+example\.org", origin):
        return True
    return re.fullmatch(r"https://pr-[0-9]+\.preview\.example\.net", origin) is not None


async def app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": list(MIDDLEWARE_APP_HEADERS)})
    await send({"type": "http.response.body", "body": b"x"})


MIDDLEWARE = CORSMiddleware(app, CONFIG)

_PIECES = st.sampled_from(
    [
        "https://",
        "http://",
        "app.",
        "example.",
        "org",
        "com",
        "net",
        "evil",
        ".",
        ":3000",
        ":443",
        "@",
        "/",
        "%60",
        "localhost",
        "pr-1",
        "preview.",
        "a-",
        "-b",
        "null",
        " ",
        ",",
        "*",
        "EXAMPLE",
    ]
)
ORIGINS = st.one_of(
    st.lists(_PIECES, min_size=1, max_size=8).map("".join),
    st.text(max_size=40).filter(lambda s: s.isascii()),
    st.sampled_from(["https://app.example.com", "https://a.example.org", "https://pr-12.preview.example.net"]),
)


def assert_no_duplicates(headers: list[tuple[bytes, bytes]]) -> None:
    names = [name.lower() for name, _ in headers]
    assert len(names) == len(set(names)), names


@given(origin=ORIGINS)
async def test_a_disallowed_origin_is_never_reflected(origin: str) -> None:
    result = await call(MIDDLEWARE, http_scope(headers=[(b"origin", origin.encode("latin-1"))]))
    headers = result.starts[0]["headers"]
    assert_no_duplicates(headers)
    acao = [v for k, v in headers if k == b"access-control-allow-origin"]
    if oracle(origin):
        assert acao == [origin.encode()]
    else:
        assert acao == []
        assert not [k for k, _ in headers if k.startswith(b"access-control-")]
    assert dict(headers)[b"vary"] == b"Accept-Encoding, Origin"


@given(
    origin=ORIGINS,
    method=st.sampled_from(["GET", "PUT", "put", "PROPFIND", "DELETE"]),
    request_headers=st.lists(st.sampled_from(["content-type", "X-Request-ID", "x-evil", "", " "]), max_size=4),
    private_network=st.booleans(),
)
async def test_preflight_allows_only_what_is_configured(
    origin: str, method: str, request_headers: list[str], private_network: bool
) -> None:
    headers = [(b"origin", origin.encode("latin-1")), (b"access-control-request-method", method.encode())]
    if request_headers:
        headers.append((b"access-control-request-headers", ",".join(request_headers).encode()))
    if private_network:
        headers.append((b"access-control-request-private-network", b"true"))
    result = await call(MIDDLEWARE, http_scope("OPTIONS", headers=headers))
    response = result.starts[0]["headers"]
    assert_no_duplicates(response)
    allowed = (
        oracle(origin)
        and method in ("GET", "PUT", "DELETE")
        and all(h.strip().lower() in ("content-type", "x-request-id", "") for h in request_headers)
        and not private_network
    )
    assert result.status == (200 if allowed else 403)
    if allowed:
        assert dict(response)[b"access-control-allow-origin"] == origin.encode()
    else:
        assert not [k for k, _ in response if k.startswith(b"access-control-")]


# --- the origin parser and matcher (hardening.cors._origins) ------------------------------

LABELS = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True)
HOSTS = st.lists(LABELS, min_size=1, max_size=4).map(".".join)
SCHEMES = st.sampled_from(["http", "https", "ws", "wss", "ftp"])
PORTS = st.one_of(st.none(), st.integers(min_value=0, max_value=70000))


def spelled(scheme: str, host: str, port: int | None) -> str:
    return f"{scheme}://{host}" + ("" if port is None else f":{port}")


@given(scheme=SCHEMES, host=HOSTS, port=PORTS, upper=st.booleans())
def test_normalising_an_entry_is_idempotent_and_well_formed_origins_are_its_fixed_points(
    scheme: str, host: str, port: int | None, upper: bool
) -> None:
    entry = spelled(scheme, host, port)
    normal = normalise_origin_entry(entry.upper() if upper else entry)
    if port is not None and port > 65535:
        assert normal is None
        return
    assert normal is not None
    assert normalise_origin_entry(normal) == normal
    parsed = parse_origin(normal)
    assert parsed is not None
    assert spelled(parsed.scheme, parsed.host, parsed.port) == normal  # parse, serialise: the same text
    assert parsed.port is None or parsed.port != DEFAULT_PORTS.get(parsed.scheme)


@given(value=st.one_of(ORIGINS, st.text(max_size=30)))
def test_the_matcher_accepts_only_listed_exact_values_or_well_formed_origins(value: str) -> None:
    matcher = OriginMatcher(("https://app.example.com", "https://*.example.org"), (re.compile(r"https://.+"),))
    if matcher.matches(value):
        assert value == "https://app.example.com" or parse_origin(value) is not None


@given(scheme=SCHEMES, base=HOSTS, sub=HOSTS, host=HOSTS, port=PORTS, pattern_port=st.one_of(st.none(), st.just(8443)))
def test_a_subdomain_pattern_matches_exactly_the_strict_subdomains_on_its_scheme_and_port(
    scheme: str, base: str, sub: str, host: str, port: int | None, pattern_port: int | None
) -> None:
    entry = normalise_origin_entry(spelled(scheme, f"*.{base}", pattern_port))
    assert entry is not None
    matcher = OriginMatcher((entry,))
    for candidate_host in (f"{sub}.{base}", host, base):
        value = spelled(scheme, candidate_host, port)
        parsed = parse_origin(value)
        expected = (
            parsed is not None
            and parsed.host.endswith("." + base)
            and parsed.port == (None if pattern_port == DEFAULT_PORTS.get(scheme) else pattern_port)
        )
        assert matcher.matches(value) is expected, (entry, value)


SUFFIX_BASES = st.sampled_from(["com", "co.uk", "github.io", "example.com", "example.co.uk", "localhost", "internal"])


@given(labels=st.lists(LABELS, min_size=0, max_size=3), base=SUFFIX_BASES, extra=LABELS)
def test_a_base_accepted_for_wildcards_stays_accepted_below(labels: list[str], base: str, extra: str) -> None:
    """Going down a level never turns an acceptable wildcard base into a refused one."""
    name = ".".join([*labels, base])
    if wildcard_base_problem(name) is None:
        assert wildcard_base_problem(f"{extra}.{name}") is None
    if base in ("com", "co.uk", "github.io") and not labels:
        assert wildcard_base_problem(name) is not None


REGEX_PIECES = st.sampled_from(
    [r"[a-z0-9-]+", r"pr-[0-9]+", r"(a|b)", r"\.", r"[.]", ".", r"app", r"x?", r"|https://evil\.com", r"(:[0-9]+)?"]
)


@given(
    prefix=st.lists(REGEX_PIECES, max_size=4).map("".join),
    domain=HOSTS,
    tail=st.sampled_from(["", r"(:[0-9]+)?", r":\d+"]),
    candidate=st.one_of(HOSTS, st.builds(lambda a, b: f"{a}.{b}", HOSTS, HOSTS)),
    port=st.one_of(st.just(""), st.just(":8080")),
)
def test_the_suffix_read_off_a_regex_is_one_every_matched_host_ends_with(
    prefix: str, domain: str, tail: str, candidate: str, port: str
) -> None:
    regex = "https://" + prefix + r"\." + re.escape(domain) + tail
    suffix = regex_host_suffix(regex)
    if suffix is None:
        return
    assert suffix.endswith(domain) or domain.endswith(suffix)  # literal pieces before it may extend it
    for host in (candidate, f"{candidate}.{domain}"):
        origin = f"https://{host}{port}"
        parsed = parse_origin(origin)
        if parsed is not None and re.fullmatch(regex, origin):
            assert parsed.host.endswith("." + suffix), (regex, origin)
