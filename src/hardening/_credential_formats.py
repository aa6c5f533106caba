r"""Credential formats recognised anywhere in text, from a maintained secret-scanning rule set.

Every expression below is the core of a rule of gitleaks' default configuration,
``config/gitleaks.toml`` of gitleaks/gitleaks at v8.30.0-27-gb58d3f10 (2026-07-22); the
rule id is named beside it. Changes, none of which masks less of a real token:

* the leading ``\b`` and the trailing delimiter group (``(?:[\x60'"\s;]|\\[nr]|$)``,
  written for scanning source files) are left out, so a token glued to other text is
  still found;
* ``Bearer`` and ``Basic`` (in their usual three spellings, as ``xapp-`` and ``xoxe`` in
  lower case, where gitleaks ignores case) come from the ``curl-auth-header`` rule, which looks for them
  after ``Authorization:`` in a curl command; here they are found anywhere. A ``Basic``
  value is masked only when it decodes as base64 to ``user:password`` (RFC 7617), so
  prose such as "Basic authentication failed" stays readable.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

__all__ = ("CREDENTIALS", "CREDENTIAL_FORMATS", "CREDENTIAL_HINTS", "mask_credential")

CREDENTIAL_FORMATS: Final[dict[str, str]] = {
    # jwt
    "jwt": r"ey[a-zA-Z0-9]{17,}\.ey[a-zA-Z0-9/\\_-]{17,}\.(?:[a-zA-Z0-9/\\_-]{10,}={0,2})?",
    # github-pat, github-oauth, github-app-token, github-refresh-token, github-fine-grained-pat
    "github": r"gh[pousr]_[0-9a-zA-Z]{36}|github_pat_\w{82}",
    # slack-bot-token, slack-legacy-bot-token, slack-user-token, slack-legacy-token,
    # slack-legacy-workspace-token, slack-app-token, slack-config-*-token, slack-webhook-url
    "slack": (
        r"xoxb-[0-9]{10,13}-[0-9]{10,13}[a-zA-Z0-9-]*|xoxb-[0-9]{8,14}-[a-zA-Z0-9]{18,26}"
        r"|xox[pe](?:-[0-9]{10,13}){3}-[a-zA-Z0-9-]{28,34}|xox[os]-\d+-\d+-\d+-[a-fA-F\d]+"
        r"|xox[ar]-(?:\d-)?[0-9a-zA-Z]{8,48}|xapp-\d-[A-Za-z0-9]+-\d+-[A-Za-z0-9]+"
        r"|xoxe.xox[bp]-\d-[A-Za-z0-9]{163,166}|xoxe-\d-[A-Za-z0-9]{146}"
        r"|hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,56}"
    ),
    # stripe-access-token
    "stripe": r"[sr]k_(?:test|live|prod)_[a-zA-Z0-9]{10,99}",
    # aws-access-token
    "aws": r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}",
    # gcp-api-key
    "google": r"AIza[\w-]{35}",
    # openai-api-key
    "openai": (
        r"sk-(?:proj|svcacct|admin)-(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})T3BlbkFJ"
        r"(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})|sk-[a-zA-Z0-9]{20}T3BlbkFJ[a-zA-Z0-9]{20}"
    ),
    # anthropic-api-key, anthropic-admin-api-key
    "anthropic": r"sk-ant-(?:api03|admin01)-[a-zA-Z0-9_\-]{93}AA",
    # private-key
    "private_key": r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\s\S-]{64,}?KEY(?: BLOCK)?-----",
    # curl-auth-header (its Bearer and Basic parts)
    "bearer": r"(?P<bearer>(?:Bearer|bearer|BEARER)[ \t]+)[\w=~@.+/-]{8,}",
    "basic": r"(?P<basic>(?:Basic|basic|BASIC)[ \t]+)(?P<basic_value>[A-Za-z0-9+/]{8,}={0,3})",
}
"""Each credential format's expression, by name (the tests build tokens from them)."""

CREDENTIALS: Final = re.compile("|".join(f"(?:{expression})" for expression in CREDENTIAL_FORMATS.values()))
"""All the formats as one alternation."""

CREDENTIAL_HINTS: Final = re.compile(
    "|".join(
        re.escape(hint)
        for hint in (
            *(".ey", "hp_", "ho_", "hu_", "hs_", "hr_", "_pat_", "xox", "xapp-", "k.com/"),
            *("k_test_", "k_live_", "k_prod_", "A3T", "AKIA", "ASIA", "ABIA", "ACCA", "AIza", "k-", "BEGIN"),
            *("Bearer", "bearer", "BEARER", "Basic", "basic", "BASIC"),
        )
    )
)
"""Strings one of which every match of :data:`CREDENTIALS` contains (like gitleaks' rule
keywords): a quick test that skips the formats for almost every text. Plain literals
only, so the regular expression engine scans for their first characters in C."""

_REDACTED: Final = "[REDACTED]"


def mask_credential(match: re.Match[str]) -> str:
    """The replacement of a match of :data:`CREDENTIALS`: ``Bearer``/``Basic`` keep the scheme."""
    scheme = match["bearer"]
    if scheme is not None:
        return scheme + _REDACTED
    scheme = match["basic"]
    if scheme is None:
        return _REDACTED
    value = match["basic_value"]
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return match.group(0)
    return scheme + _REDACTED if b":" in decoded else match.group(0)
