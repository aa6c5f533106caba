"""CSP policy validation and the nonce helper."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from hardening.headers.csp import (
    CSP_NONCE_STATE_KEY,
    csp_nonce,
    format_policy,
    new_nonce,
    parse_policy,
    validate_policy,
)

WHERE = "headers.api.csp (HARDENING_HEADERS__API__CSP)"


def test_valid_policy_round_trips() -> None:
    text = "default-src 'self'; script-src 'nonce' 'strict-dynamic' https:; upgrade-insecure-requests"
    directives = validate_policy(text, where=WHERE)
    assert directives["script-src"] == ("'nonce'", "'strict-dynamic'", "https:")
    assert format_policy(directives) == text


def test_mapping_form_is_accepted() -> None:
    directives = validate_policy({"default-src": "'none'", "img-src": ["'self'", "data:"]}, where=WHERE)
    assert format_policy(directives) == "default-src 'none'; img-src 'self' data:"


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        ("default-src self", "must be quoted"),
        ("script-src nonce-abc", "must be quoted"),
        ("script-src 'unsafe-inlin'", "unknown quoted source"),
        ("default-src 'none'; DEFAULT-SRC 'self'", "appears twice"),
        ("scrpit-src 'self'", "unknown CSP directive"),
        ("upgrade-insecure-requests 'self'", "takes no value"),
        ("default-src 'self', img-src 'self'", "separates policies"),
        ("default-src 'self'\nimg-src x", "CR/LF"),
        ("default-src 'self' h\x01st", "control character"),
        ("img-src https://b\u00fccher.example", "not ASCII"),
        ("script-src 'strict-dynamic' 'self'", "without a nonce"),
        (" ; ", "empty"),
    ],
)
def test_invalid_policies_are_rejected_with_the_setting_named(policy: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment) as info:
        validate_policy(policy, where=WHERE)
    assert "HARDENING_HEADERS__API__CSP" in str(info.value)


def test_strict_dynamic_with_a_hash_is_fine() -> None:
    validate_policy("script-src 'sha256-abc=' 'strict-dynamic'", where=WHERE)


def test_parse_policy_is_lenient_like_a_browser() -> None:
    assert parse_policy("Default-Src 'self'; default-src 'none';; img-src") == {
        "default-src": ("'self'",),
        "img-src": (),
    }


def test_nonces_are_long_and_unique() -> None:
    nonces = {new_nonce() for _ in range(1000)}
    assert len(nonces) == 1000
    assert all(len(n) == 24 and "=" not in n for n in nonces)  # 144 bits, URL-safe


def test_csp_nonce_reads_request_scope_and_state() -> None:
    scope = {"type": "http", "state": {CSP_NONCE_STATE_KEY: "abc"}, "headers": []}
    assert csp_nonce(scope) == "abc"
    request = Request(scope)
    assert csp_nonce(request) == "abc"
    assert request.state.csp_nonce == "abc"


def test_csp_nonce_without_the_layer_explains_the_fix() -> None:
    with pytest.raises(LookupError, match="SecurityHeadersMiddleware"):
        csp_nonce({"type": "http", "headers": []})
