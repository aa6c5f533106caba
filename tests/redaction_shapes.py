"""Credential-shaped strings the redaction must catch, as one data table (issue 22).

Each format's token is its own documentation's example where the documentation gives a
complete one (RFC 7519 for JWTs, RFC 6750 Bearer, RFC 7617 Basic, RFC 6749 for OAuth
parameters, AWS, Stripe, Slack, Firebase's API-key example); otherwise it is built to the
documented shape (prefix, alphabet and length: GitHub, OpenAI, Anthropic, RFC 7468 PEM).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from urllib.parse import quote, quote_plus


@dataclass(frozen=True)
class Shape:
    """One credential in one shape, as it reaches an output."""

    name: str
    text: str
    """What reaches the output: a message (kind ``text``) or a raw query string (``query``)."""
    secret: str
    """What must not survive."""
    kind: str = "text"
    registered: str | None = None
    """A secret registered (as the settings loader does) before the text is produced."""


def _q(name: str, query: str, secret: str) -> Shape:
    return Shape(name, query, secret, "query")


def _alnum(count: int, seed: str = "aB3") -> str:
    return (seed * count)[:count]


JWT_RFC7519 = (
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)  # RFC 7519, section 3.1
PEM_BODY = (
    "MIGEAgEAMBAGByqGSM49AgEGBSuBBAAKBG0wawIBAQQgVcB/UNPxalR9zDYAjQIf\n"
    "jojUDiQuGnSJrFEEzZPT/92hRANCAASc7UJtgnF/abqWM60T3XNJEzBv5ez9TdwK\n"
    "H0M6xpM2q+53wmsN/eYLdgtjgBd3DBmHtPilCkiFICXyaA8z9LkJ\n"
)  # RFC 7468, section 10 (a PKCS #8 private key)
GITHUB_BODY = "16C7e42F292c6912E7710c838347Ae178B4a"  # 36 base62 characters after the prefix
STRIPE_BODY = "BQokikJOvBiI2HlWgH4olfQ2"  # docs.stripe.com/api/authentication's sample key

FORMATS = [
    Shape("jwt", f"token {JWT_RFC7519} was rejected", JWT_RFC7519),
    Shape("bearer (not after Authorization:)", "upstream refused Bearer mF_9.B5f-4.1JqM", "mF_9.B5f-4.1JqM"),
    Shape(
        "basic (not after Authorization:)",
        "retry with Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
    ),
    Shape("github ghp_", f"push failed for ghp_{GITHUB_BODY}", f"ghp_{GITHUB_BODY}"),
    Shape("github gho_", f"oauth gho_{GITHUB_BODY} expired", f"gho_{GITHUB_BODY}"),
    Shape("github ghs_", f"app token ghs_{GITHUB_BODY}", f"ghs_{GITHUB_BODY}"),
    Shape("github ghr_", f"refresh ghr_{GITHUB_BODY}", f"ghr_{GITHUB_BODY}"),
    Shape("github github_pat_", f"using github_pat_11A{_alnum(79)}", f"github_pat_11A{_alnum(79)}"),
    Shape(
        "slack xoxb-",
        "bot xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
        "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
    ),
    Shape("slack xoxp-", f"user xoxp-1234567890-1234567890-1234567890-{_alnum(32)}", f"{_alnum(32)}"),
    Shape(
        "slack webhook",
        "posting to https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX failed",
        "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    ),
    Shape("stripe sk_live_", f"charge failed with sk_live_{STRIPE_BODY}", f"sk_live_{STRIPE_BODY}"),
    Shape("stripe sk_test_", f"charge failed with sk_test_{STRIPE_BODY}", f"sk_test_{STRIPE_BODY}"),
    Shape("stripe rk_live_", f"restricted key rk_live_{STRIPE_BODY}", f"rk_live_{STRIPE_BODY}"),
    Shape("aws access key id", "signing as AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),  # AWS's docs
    Shape(
        "google api key",
        "maps call with AIzaSyDdVgKwhZl0sTTTLZ7iTmt1r3N2cJLnaDk",
        "AIzaSyDdVgKwhZl0sTTTLZ7iTmt1r3N2cJLnaDk",
    ),
    Shape("openai sk-", f"model call with sk-{_alnum(20)}T3BlbkFJ{_alnum(20, 'xY9')}", f"T3BlbkFJ{_alnum(20, 'xY9')}"),
    Shape(
        "openai sk-proj-",
        f"model call with sk-proj-{_alnum(58)}T3BlbkFJ{_alnum(58, 'xY9')}",
        f"T3BlbkFJ{_alnum(58, 'xY9')}",
    ),
    Shape("anthropic sk-ant-", f"model call with sk-ant-api03-{_alnum(93)}AA", f"{_alnum(93)}AA"),
    Shape(
        "pem private key",
        f"loaded -----BEGIN PRIVATE KEY-----\n{PEM_BODY}-----END PRIVATE KEY----- from disk",
        PEM_BODY.splitlines()[1],
    ),
    Shape(
        "pem rsa private key",
        f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}-----END RSA PRIVATE KEY-----",
        PEM_BODY.splitlines()[0],
    ),
]

QUERIES = [
    _q("?code= (RFC 6749 4.1.2)", "code=SplxlOBeZQQYbYS6WxSbIA&state=xyz", "SplxlOBeZQQYbYS6WxSbIA"),
    _q("?access_token=", "access_token=2YotnFZFEjr1zCsicMWpAA&page=1", "2YotnFZFEjr1zCsicMWpAA"),
    Shape(
        "?refresh_token=",
        "grant_type=refresh_token&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA",
        "tGzv3JOkF0XG5Qx2TlKWIA",
        "query",
    ),
    _q("?id_token=", "state=af0ifjsldkj&id_token=opaque-id-token-9f8e7d6c", "opaque-id-token-9f8e7d6c"),
    Shape(
        "?client_secret=",
        "client_id=s6BhdRkqt3&client_secret=7Fjfp0ZBr1KtDRbnfVdmIw",
        "7Fjfp0ZBr1KtDRbnfVdmIw",
        "query",
    ),
    Shape(
        "?code_verifier=",
        "code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        "query",
    ),
    _q("?key=", "q=shoes&key=3f9a8c1e77b24d5e9a01", "3f9a8c1e77b24d5e9a01"),
    Shape(
        "?sig= (Azure SAS)",
        "sv=2019-02-02&sig=a39%2BYozJhGp6miujGymjRpN8tsrQfLo9Z3i8IRyIpnQ%3d",
        "a39%2BYozJhGp6miujGymjRpN8tsrQfLo9Z3i8IRyIpnQ",
        "query",
    ),
    Shape(
        "?Signature= (CloudFront)",
        "Expires=1357034400&Signature=nitfHRCrtziwO2HwPfWw~yYDhUF5EwRunQA-j19DzZrvDh6hQ73lDx",
        "nitfHRCrtziwO2HwPfWw",
        "query",
    ),
    _q(
        "?X-Amz-Signature=",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
    ),
    Shape(
        "?X-Amz-Credential=",
        "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request",
        "AKIAIOSFODNN7EXAMPLE",
        "query",
    ),
    Shape(
        "?X-Amz-Security-Token=",
        "X-Amz-Security-Token=FQoGZXIvYXdzEJr-session-token-7d2c",
        "FQoGZXIvYXdzEJr-session-token-7d2c",
        "query",
    ),
    _q("?token=", "token=opaque-token-4b1f9c&page=2", "opaque-token-4b1f9c"),
    _q("?pass=", "user=ann&pass=hunter2-canary-pass", "hunter2-canary-pass"),
    _q("?pw=", "user=ann&pw=hunter2-canary-pw", "hunter2-canary-pw"),
    _q("?password=", "user=ann&password=hunter2-canary-password", "hunter2-canary-password"),
]

SECRET = "Sw0rd/fi sh'\\\"pässwörd€"
"""A registered secret with a slash, a space, both quotes, a backslash and non-ASCII letters."""


def _b64(value: str, *, urlsafe: bool = False, padded: bool = True) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    text = encode(value.encode()).decode()
    return text if padded else text.rstrip("=")


ENCODED = {
    "verbatim": SECRET,
    "repr (backslash doubled)": repr(SECRET),
    "ascii()": ascii(SECRET),
    "JSON-escaped": json.dumps(SECRET),
    "JSON-escaped, not ASCII": json.dumps(SECRET, ensure_ascii=False),
    "percent-encoded, safe=''": quote(SECRET, safe=""),
    "percent-encoded, safe='/'": quote(SECRET),
    'percent-encoded, safe="\'/"': quote(SECRET, safe="'/"),
    "percent-encoded, lower-case hex": re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(SECRET, safe="")),
    "+ for spaces (quote_plus)": quote_plus(SECRET),
    "base64": _b64(SECRET),
    "base64, no padding": _b64(SECRET, padded=False),
    "base64url": _b64(SECRET, urlsafe=True),
    "base64url, no padding": _b64(SECRET, urlsafe=True, padded=False),
}
ENCODINGS = [
    Shape(f"registered secret, {name}", f"config dump: {shown} (end)", shown, registered=SECRET)
    for name, shown in ENCODED.items()
]

SHAPES = [*FORMATS, *QUERIES, *ENCODINGS]
"""Every shape (the settings-report shape, a secret-named ``str`` field, is tested beside them)."""
