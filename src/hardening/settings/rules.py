"""Generic production rules (``HARDENING-SET-*``): debug mode, weak or exposed secrets.

The rules walk any settings model (``HardeningSettings`` through the registry in
:mod:`hardening.checks`, and an app's :class:`~hardening.AppSettings` fields through
:func:`app_findings`). A finding names the variable and never the value.

Capability rules (CORS, HSTS, hosts, rate limiting, Sentry PII as ``HARDENING-MON-002``,
...) live in their own modules. ``HARDENING-SET-006`` is retired (it became MON-002).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import BaseModel

from hardening.findings import Finding, Rule, Severity
from hardening.redaction import is_sensitive_key
from hardening.settings.fields import FieldRow, field_table, value_at
from hardening.settings.secrets import secret_text

__all__ = ("CHECKS", "RULES", "app_findings", "check_debug", "check_secrets", "entropy_bits", "is_placeholder")

RULES: Final[dict[str, tuple[Severity, str]]] = {
    "HARDENING-SET-001": ("error", "debug mode is on"),
    "HARDENING-SET-002": ("error", "a secret is a known placeholder"),
    "HARDENING-SET-003": ("error", "a signing key is shorter than 32 characters"),
    "HARDENING-SET-004": ("error", "a signing key has low entropy"),
    "HARDENING-SET-005": ("error", "a secret is empty"),
    "HARDENING-SET-007": ("warning", "a secret-looking field is a plain string, not SecretStr"),
    "HARDENING-SET-008": ("error", "a signing key still has the default written in code"),
    "HARDENING-SET-009": ("warning", "a URL in a non-secret field carries a password"),
    "HARDENING-SET-010": ("warning", "HARDENING_ENVIRONMENT has an unknown value (treated as production)"),
    "HARDENING-SET-011": ("info", "HARDENING_ENVIRONMENT is not set (treated as production)"),
    "HARDENING-SET-012": ("warning", "an unknown variable carries the settings prefix (typo?)"),
}
"""Every ``HARDENING-SET-*`` ID with its severity and title (010-012 come from loading)."""

MIN_KEY_LENGTH: Final = 32
"""The shortest acceptable signing key (Django asks 50; 32 random bytes is 256 bits)."""
MIN_UNIQUE_CHARS: Final = 5
MIN_ENTROPY_BITS: Final = 96.0

_SIGNING_NAME: Final = re.compile(
    r"(^|_)(secret|secret_key|signing_key|session_secret|session_key|jwt_secret|jwt_key|hmac_key|"
    r"encryption_key|cookie_secret|app_secret)$",
    re.IGNORECASE,
)
_PLACEHOLDERS: Final = frozenset(
    {
        "changeme",
        "changeit",
        "secret",
        "secretkey",
        "mysecret",
        "mysecretkey",
        "yoursecretkey",
        "supersecret",
        "password",
        "passw0rd",
        "default",
        "example",
        "test",
        "testing",
        "dev",
        "development",
        "todo",
        "fixme",
        "replaceme",
        "insecure",
        "notsecret",
        "admin",
        "letmein",
        "12345678",
        "123456",
        "1234",
        "xxx",
        "xxxx",
        "none",
        "null",
        "key",
        "apikey",
        "token",
    }
)
_PLACEHOLDER_PARTS: Final = (
    "changeme",
    "change_me",
    "change-me",
    "replaceme",
    "replace_me",
    "replace-me",
    "insecure",
    "placeholder",
    "dummy",
    "yoursecret",
    "your-secret",
    "your_secret",
    "notasecret",
    "not-a-secret",
)


def _leaves(model: BaseModel) -> Iterator[tuple[FieldRow, Any]]:
    for row in field_table(type(model)):
        if row.kind not in ("settings", "model"):
            yield row, value_at(model, row.path)


def is_placeholder(secret: str) -> bool:
    """Whether ``secret`` is a well-known placeholder (``changeme``, ``secret``, ...)."""
    lowered = secret.strip().lower()
    normalized = re.sub(r"[^a-z0-9]", "", lowered)
    return (
        normalized in _PLACEHOLDERS
        or lowered.startswith("django-insecure-")
        or any(part in lowered for part in _PLACEHOLDER_PARTS)
    )


def entropy_bits(secret: str) -> float:
    """Estimate the entropy of ``secret`` in bits (Shannon entropy times length)."""
    if not secret:
        return 0.0
    counts = Counter(secret)
    total = len(secret)
    per_char = -sum(n / total * math.log2(n / total) for n in counts.values())
    return per_char * total


def _is_signing_key(row: FieldRow) -> bool:
    return bool(row.spec and row.spec.signing_key) or bool(_SIGNING_NAME.search(row.path[-1]))


def _finding(rule_id: str, row: FieldRow, message: str, hint: str) -> Finding:
    return Finding(
        id=rule_id, severity=RULES[rule_id][0], message=message, hint=hint, setting=row.setting, env_var=row.env
    )


def check_debug(settings: BaseModel) -> Iterable[Finding]:
    """HARDENING-SET-001: a boolean ``debug`` field is on."""
    for row, value in _leaves(settings):
        if value is True and re.fullmatch(r"(.*_)?debug", row.path[-1], re.IGNORECASE):
            yield _finding(
                "HARDENING-SET-001",
                row,
                "debug mode is on",
                f"Set {row.env}=false: debug pages and tracebacks leak code, settings and data.",
            )


def check_secrets(settings: BaseModel) -> Iterable[Finding]:
    """HARDENING-SET-002..005, 007..009: weak, empty, default or exposed secrets."""
    for row, value in _leaves(settings):
        secret = secret_text(value)
        if secret is None:
            yield from _plain_field(row, value)
            continue
        yield from _weak_secret(row, secret)


_NAMES_A_CARRIER: Final = re.compile(r".*_(?:header|cookie|param|field|name|env|var|file|path)s?", re.IGNORECASE)
"""Field names that hold where a secret travels (``api_key_header = "x-api-key"``), not the secret."""


def _plain_field(row: FieldRow, value: Any) -> Iterator[Finding]:
    name = row.path[-1]
    if (
        isinstance(value, str)
        and value
        and is_sensitive_key(name)
        and not _NAMES_A_CARRIER.fullmatch(name)
        and row.kind == "scalar"
    ):
        yield _finding(
            "HARDENING-SET-007",
            row,
            "holds a secret-looking value in a plain string field",
            "Declare the field as pydantic.SecretStr so it is masked in repr, logs and reports.",
        )
    text = str(value) if value is not None and not isinstance(value, (bool, int, float)) else ""
    if "://" in text and "@" in text:
        try:
            password = urlsplit(text).password
        except ValueError:
            password = None
        if password:
            yield _finding(
                "HARDENING-SET-009",
                row,
                "a URL with an embedded password is stored in a non-secret field",
                "Declare the field as SecretStr (or a DSN type) or move the password to its own secret.",
            )


def _weak_secret(row: FieldRow, secret: str) -> Iterator[Finding]:
    if not secret.strip():
        yield _finding("HARDENING-SET-005", row, "the secret is empty", f"Set {row.env} to a real secret.")
        return
    default = secret_text(row.info.default)
    required = row.spec.required_in if row.spec else ()
    if default and secret == default and "production" not in required and _is_signing_key(row):
        yield _finding(
            "HARDENING-SET-008",
            row,
            "the secret still has the default written in the code",
            f"Set {row.env} (or {row.env}_FILE) from your secret store.",
        )
    if is_placeholder(secret):
        yield _finding(
            "HARDENING-SET-002",
            row,
            "the secret is a well-known placeholder",
            f"Generate one: python -c 'import secrets; print(secrets.token_urlsafe(48))' and set {row.env}.",
        )
        return
    if not _is_signing_key(row):
        return
    if len(secret) < MIN_KEY_LENGTH:
        yield _finding(
            "HARDENING-SET-003",
            row,
            f"the signing key is shorter than {MIN_KEY_LENGTH} characters",
            "Use at least 32 random bytes: python -c 'import secrets; print(secrets.token_urlsafe(48))'.",
        )
    if len(set(secret)) < MIN_UNIQUE_CHARS or entropy_bits(secret) < MIN_ENTROPY_BITS:
        yield _finding(
            "HARDENING-SET-004",
            row,
            "the signing key has low entropy (repeated or predictable characters)",
            "Generate it with a CSPRNG: python -c 'import secrets; print(secrets.token_urlsafe(48))'.",
        )


def app_findings(settings: BaseModel) -> list[Finding]:
    """Run the generic rules on an app's own fields (``hardening`` itself excluded)."""
    return [finding for rule in (check_debug, check_secrets) for finding in rule(settings)]


CHECKS: tuple[Rule, ...] = (check_debug, check_secrets)
"""The rules this module registers with :mod:`hardening.checks`."""
