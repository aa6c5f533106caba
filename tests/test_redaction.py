"""The shared redaction policy: keys, URLs, key=value text, registered secrets; copy-on-write."""

from __future__ import annotations

import base64
import copy
import json
import re
from collections import namedtuple
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardening.redaction import (
    REDACTED,
    _clear_registered_secrets,
    is_sensitive_key,
    redact,
    redact_text,
    redact_url,
    register_secret,
    registered_secret_count,
)

CANARY = "canary-7f3b9e1d"


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db_password",
        "DB_PASSWORD",
        "passwd",
        "x-api-key",
        "X-Api-Key",
        "apiKey",
        "api_key",
        "access_token",
        "accessToken",
        "refresh-token",
        "client_secret",
        "secret_key",
        "Authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "session",
        "sessionid",
        "private_key",
        "aws_access_key_id",
        "sentry_dsn",
        "csrftoken",
        "jwt",
        "credentials",
        "oauth_token",
    ],
)
def test_sensitive_keys(key: str) -> None:
    assert is_sensitive_key(key)


@pytest.mark.parametrize(
    "key",
    ["user", "author", "authors", "max_tokens", "prompt_tokens", "total_tokens", "token_count", "path", "status"],
)
def test_ordinary_keys(key: str) -> None:
    assert not is_sensitive_key(key)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://app:s3cr3t@db:5432/app", "postgresql://[REDACTED]@db:5432/app"),
        ("redis://:pw@cache:6379/0", "redis://[REDACTED]@cache:6379/0"),
        ("https://h/p?token=abc&page=2", "https://h/p?token=[REDACTED]&page=2"),
        ("https://h/p?page=2;api_key=abc#frag", "https://h/p?page=2;api_key=[REDACTED]#frag"),
        ("https://h/p?q=x", "https://h/p?q=x"),
        # SQLAlchemy accepts unencoded '/', '?', '#' and '@' in a password
        ("postgresql://app:pa/ss@db/app", "postgresql://[REDACTED]@db/app"),
        ("postgresql://app:pa?ss@db/app", "postgresql://[REDACTED]@db/app"),
        ("postgresql://app:pa#ss@db/app", "postgresql://[REDACTED]@db/app"),
        ("postgresql://app:p@ss@db/app", "postgresql://[REDACTED]@db/app"),
        # a port, a path and an address in the query are not credentials
        ("http://localhost:8000/users?email=a@b.com", "http://localhost:8000/users?email=a@b.com"),
        ("https://h/p?email=a@b.com", "https://h/p?email=a@b.com"),
    ],
)
def test_redact_url(text: str, expected: str) -> None:
    assert redact_url(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("login failed password=hunter2 user=bob", "login failed password=[REDACTED] user=bob"),
        ('{"password": "x y", "a": 1}', '{"password": "[REDACTED]", "a": 1}'),
        ("{'api_key': 'abc', 'n': 2}", "{'api_key': '[REDACTED]', 'n': 2}"),
        ("Authorization: Bearer abc.def", "Authorization: [REDACTED]"),
        ("token=abc&x=1", "token=[REDACTED]&x=1"),
        ("at 12:30:00 author: bob", "at 12:30:00 author: bob"),
        ("max_tokens=100", "max_tokens=100"),
        ("api_key=[REDACTED]", "api_key=[REDACTED]"),
        ("Cookie: a=1; session=abc\nHost: h", "Cookie: [REDACTED]\nHost: h"),
        ("set-cookie: sid=abc; Path=/; HttpOnly", "set-cookie: [REDACTED]"),
        ("Cookie: [REDACTED]; b=abc", "Cookie: [REDACTED]"),
        ("dsn=postgresql://u:pw@h/db next", "dsn=[REDACTED] next"),
    ],
)
def test_redact_text_pairs(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_registered_secret_is_masked_anywhere() -> None:
    register_secret(CANARY)
    assert redact_text(f"boom: could not use {CANARY}!{CANARY}") == f"boom: could not use {REDACTED}!{REDACTED}"
    # the URL-encoded form too (secrets with reserved characters end up encoded in DSNs)
    register_secret("p@ss/word+1")
    assert "p%40ss%2Fword%2B1" not in redact_text("postgresql://u@h/db?password=p%40ss%2Fword%2B1x")
    assert registered_secret_count() >= 3


def test_short_secrets_are_ignored_and_clear_forgets() -> None:
    register_secret("abc")
    assert redact_text("abc") == "abc"
    register_secret(CANARY)
    _clear_registered_secrets()
    assert redact_text(CANARY) == CANARY
    assert registered_secret_count() == 0


def test_redact_nested_and_copy_on_write() -> None:
    register_secret(CANARY)
    Point = namedtuple("Point", "x y")
    original: dict[str, Any] = {
        "user": {"name": "ann", "password": "pw1", "tokens": ["a"]},
        "headers": [("x-api-key", "k"), ("accept", "*/*")],
        "message": f"failed with {CANARY}",
        "point": Point(1, CANARY),
        "tags": {CANARY, "ok"},
        "raw": CANARY.encode(),
        "count": 3,
        "none_secret": None,
        "max_tokens": 10,
    }
    before = copy.deepcopy(original)
    result = redact(original)
    assert original == before  # never mutated
    assert result["user"]["password"] == REDACTED
    assert result["user"]["tokens"] == REDACTED
    assert result["user"]["name"] == "ann"
    assert result["message"] == f"failed with {REDACTED}"
    assert result["point"] == Point(1, REDACTED)
    assert result["tags"] == {REDACTED, "ok"}
    assert CANARY.encode() not in result["raw"]
    assert result["count"] == 3
    assert result["none_secret"] is None
    assert result["max_tokens"] == 10
    assert CANARY not in repr(result)


def test_unchanged_containers_are_returned_as_is() -> None:
    value = {"a": [1, 2, {"b": "c"}], "d": ("e",)}
    assert redact(value) is value


def test_extra_keys_and_objects() -> None:
    register_secret(CANARY)

    class Holder:
        def __repr__(self) -> str:
            return f"Holder({CANARY})"

    result = redact(
        {"tenant_code": "x", "obj": Holder(), "exc": ValueError(f"bad {CANARY}")}, extra_keys=["Tenant_Code"]
    )
    assert result["tenant_code"] == REDACTED
    assert result["obj"] == f"Holder({REDACTED})"
    assert CANARY not in result["exc"]


def test_depth_limit() -> None:
    deep: Any = "x"
    for _ in range(40):
        deep = [deep]
    out = redact(deep)
    for _ in range(32):
        out = out[0]
    assert out == REDACTED


_SECRETS = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=8, max_size=40)


@given(secret=_SECRETS, prefix=st.text(max_size=30), suffix=st.text(max_size=30))
def test_registered_secret_never_survives(secret: str, prefix: str, suffix: str) -> None:
    register_secret(secret)
    try:
        assert secret not in redact_text(prefix + secret + suffix)
        assert secret not in repr(redact({"k": [prefix + secret + suffix]}))
    finally:
        _clear_registered_secrets()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@given(value=_JSON)
def test_redact_never_mutates_and_is_idempotent(value: Any) -> None:
    before = copy.deepcopy(value)
    once = redact(value)
    assert value == before
    assert redact(once) == once


@given(key=st.sampled_from(["password", "api_key", "token", "secret"]), value=st.text(min_size=1, max_size=30))
def test_sensitive_values_in_mappings_are_always_redacted(key: str, value: str) -> None:
    assert redact({key: value}) == {key: REDACTED}


def test_name_value_pairs_like_asgi_headers() -> None:
    headers = [(b"authorization", b"Bearer t"), (b"accept", b"*/*"), ["b'x-api-key'", "b'k'"], ("Cookie", "s=1")]
    assert redact(headers) == [
        (b"authorization", REDACTED),
        (b"accept", b"*/*"),
        ["b'x-api-key'", REDACTED],
        ("Cookie", REDACTED),
    ]


@given(
    password=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="@"), min_size=6),
    port=st.sampled_from(["", ":5432"]),
)
def test_dsn_password_never_survives_in_the_forms_sqlalchemy_accepts(password: str, port: str) -> None:
    """Any printable password without '@' (SQLAlchemy splits at the first '@') is masked."""
    if password[0].isdigit():
        password = "x" + password  # 'user:8080/...' reads as a port: a documented limit
    text = f"could not connect to postgresql+asyncpg://app:{password}@db{port}/prod"
    assert password not in redact_text(text)


def test_cookie_line_redaction_is_idempotent() -> None:
    once = redact_text("Cookie: a=1; b=2")
    assert once == "Cookie: [REDACTED]"
    assert redact_text(once) == once


def test_pairs_inside_a_quoted_value_are_redacted() -> None:
    """A JSON string value that itself holds key=value pairs is searched too."""
    assert redact_text('{"error":"password=hunter2x"}') == '{"error":"password=[REDACTED]"}'
    assert "s3cr3tvalue" not in redact_text("{'detail': 'api_key: s3cr3tvalue'}")


def test_cors_header_names_are_not_secrets() -> None:
    """Access-Control-Allow-Credentials holds 'true', not a credential: it stays readable."""
    headers = {"access-control-allow-credentials": "true", "Access-Control-Allow-Headers": "Authorization"}

    assert redact(headers) == headers
    assert redact({"authorization": "Bearer abc"}) == {"authorization": REDACTED}


_TEXT_PARTS = st.sampled_from(
    [
        *("pass", "word", "tok", "en", "api", "Key", "PWD", "Cookie", "author", "secret", "Bearer ", "x", "1"),
        *("_", "-", ".", " ", "\n", "=", ":", "?", "&", ";", "@", "://", '"', "'", "{", "}", "[REDACTED]"),
        *("\u212a", "\u0130", "\u017f", "\u0131"),  # Kelvin K, dotted I, long s, dotless i: case folding
    ]
)


@given(parts=st.lists(_TEXT_PARTS | st.text(max_size=5), max_size=20))
def test_the_fast_path_of_redact_text_changes_nothing(parts: list[str]) -> None:
    """``redact_text`` skips the patterns only where they could not have masked anything."""
    from hardening._redaction_rules import redact_patterns

    text = "".join(parts)
    assert redact_text(text) == redact_patterns(text)


@pytest.mark.parametrize(
    "text",
    ["?pass_word=hunter2x", "x-Api-KEY: hunter2x", "pa\u017f\u017fword=hunter2x", "\u212aEY=1&api\u212aey=hunter2x"],
)
def test_separated_and_case_folded_keys_still_take_the_full_path(text: str) -> None:
    assert "hunter2x" not in redact_text(text)


def test_a_text_seen_clean_is_masked_once_a_secret_in_it_is_registered() -> None:
    text = "connected as canary-late-registered-77 to db"
    assert redact_text(text) == text
    assert redact_text(text) == text  # now remembered as clean
    register_secret("canary-late-registered-77")
    try:
        assert redact_text(text) == f"connected as {REDACTED} to db"
    finally:
        _clear_registered_secrets()
    assert redact_text(text) == text


def test_many_distinct_texts_keep_being_redacted() -> None:
    """The memory of clean texts is bounded and starts over; redaction never depends on it."""
    for number in range(10_000):
        assert redact_text(f"/items/{number}") == f"/items/{number}"
    assert redact_text("?token=abc") == f"?token={REDACTED}"
    from hardening import redaction

    assert len(redaction.default_redactor()._clean) <= redaction._MAX_CLEAN_TEXTS


# Issue 22: credential formats, query and form parameters, registered secrets' encodings.

from tests.redaction_shapes import FORMATS, QUERIES, Shape  # noqa: E402


@pytest.mark.parametrize("shape", FORMATS, ids=[shape.name for shape in FORMATS])
def test_each_credential_format_from_its_documentation_is_masked(shape: Shape) -> None:
    shown = redact_text(shape.text)
    assert shape.secret not in shown
    assert REDACTED in shown
    if not shape.text.startswith("-----"):
        assert shown.split()[0] == shape.text.split()[0]  # the words around it stay


@pytest.mark.parametrize("shape", QUERIES, ids=[shape.name for shape in QUERIES])
def test_oauth_and_signed_url_parameters_are_masked_in_urls_and_form_bodies(shape: Shape) -> None:
    assert shape.secret not in redact_text("GET /callback?" + shape.text)
    assert shape.secret not in redact_text(shape.text)  # a raw query string or form body
    assert shape.secret not in redact_url("https://api.example.com/cb?" + shape.text)


def test_prose_and_header_forms_stay_as_they_were() -> None:
    assert redact_text("Basic authentication failed for ann") == "Basic authentication failed for ann"
    assert redact_text("Authorization: Bearer abc.def-123456") == f"Authorization: {REDACTED}"
    assert redact_text("the bearer of bad news") == "the bearer of bad news"
    assert redact_text("?page=2&sort=code&zipcode=75001") == "?page=2&sort=code&zipcode=75001"
    assert redact_text("error code 42: retry") == "error code 42: retry"


def test_sensitive_parameter_names_are_configurable() -> None:
    from hardening.redaction import Redactor

    redactor = Redactor()
    assert redactor.redact_text("?session_hint=abc123&page=1") == f"?session_hint={REDACTED}&page=1"
    assert redactor.redact_text("?otp=123456&page=1") == "?otp=123456&page=1"
    generation = redactor.generation
    redactor.add_sensitive_params("OTP")
    assert redactor.generation != generation  # what was remembered is stale now
    assert redactor.redact_text("?otp=123456&page=1") == f"?otp={REDACTED}&page=1"
    assert "otp" in redactor.sensitive_params
    assert Redactor(sensitive_params=()).redact_text("?code=abc") == "?code=abc"


_ENCODINGS: dict[str, Any] = {
    "verbatim": lambda secret, safe: secret,
    "repr": lambda secret, safe: repr(secret),
    "ascii": lambda secret, safe: ascii(secret),
    "json": lambda secret, safe: json.dumps(secret),
    "json, not ascii": lambda secret, safe: json.dumps(secret, ensure_ascii=False),
    "percent-encoded": lambda secret, safe: quote(secret, safe=safe),
    "percent-encoded, lower hex": lambda secret, safe: re.sub(
        "%[0-9A-F]{2}", lambda m: m.group().lower(), quote(secret, safe=safe)
    ),
    "quote_plus": lambda secret, safe: quote_plus(secret, safe=safe),
    "base64": lambda secret, safe: base64.b64encode(secret.encode()).decode(),
    "base64, no padding": lambda secret, safe: base64.b64encode(secret.encode()).decode().rstrip("="),
    "base64url": lambda secret, safe: base64.urlsafe_b64encode(secret.encode()).decode(),
    "base64url, no padding": lambda secret, safe: base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
}


@given(
    secret=st.text(min_size=8, max_size=256),
    encoding=st.sampled_from(sorted(_ENCODINGS)),
    safe=st.text(alphabet="!$&'()*+,;=:@/", max_size=6),
    prefix=st.text(max_size=40),
    suffix=st.text(max_size=40),
)
def test_a_registered_secret_never_survives_in_any_encoding(
    secret: str, encoding: str, safe: str, prefix: str, suffix: str
) -> None:
    """Any unicode secret, in any of the encodings, embedded in arbitrary text: nothing of it survives."""
    register_secret(secret)
    try:
        shown = _ENCODINGS[encoding](secret, safe)
        out = redact_text(prefix + shown + suffix)
        assert shown not in out
        assert secret not in out
    finally:
        _clear_registered_secrets()


def _format_tokens() -> st.SearchStrategy[str]:
    from hardening._credential_formats import CREDENTIAL_FORMATS

    strategies = [
        st.from_regex(expression, fullmatch=True) for name, expression in CREDENTIAL_FORMATS.items() if name != "basic"
    ]
    userpass = st.tuples(st.text(min_size=1, max_size=20), st.text(max_size=20))
    basic = userpass.map(lambda pair: "Basic " + base64.b64encode(f"{pair[0]}:{pair[1]}".encode()).decode())
    return st.one_of(*strategies, basic.filter(lambda token: len(token.rstrip("=")) >= 14))  # the rule wants 8+


@given(token=_format_tokens(), prefix=st.text(max_size=30), suffix=st.text(max_size=30))
def test_a_token_of_any_format_never_survives(token: str, prefix: str, suffix: str) -> None:
    """Any token the formats describe (generated from their expressions), between words."""
    assert token not in redact_text(f"{prefix} {token} {suffix}")
