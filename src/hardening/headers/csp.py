"""Content-Security-Policy parsing, validation and the per-request nonce.

Policies are written in the ordinary CSP syntax (``"default-src 'self'; img-src data:"``)
and checked once, at start-up: directive names must be known and appear once, keywords
must be quoted (``'self'``, not ``self``), and no value may carry ``;``, ``,``, CR/LF or
control characters. The source ``'nonce'`` is a placeholder: the security-headers layer
replaces it with ``'nonce-<value>'``, a fresh value for every request, which templates
read with :func:`csp_nonce`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any, Final

__all__ = (
    "CSP_NONCE_STATE_KEY",
    "KNOWN_DIRECTIVES",
    "NONCE_SOURCE",
    "csp_nonce",
    "format_policy",
    "new_nonce",
    "parse_policy",
    "split_policy",
    "validate_policy",
)

CSP_NONCE_STATE_KEY: Final = "csp_nonce"
"""Key under ``scope["state"]`` (``request.state.csp_nonce``) holding the request's nonce."""

NONCE_SOURCE: Final = "'nonce'"
"""Placeholder source replaced by ``'nonce-<per-request value>'`` in every response."""

NONCE_BYTES: Final = 18
"""Random bytes per nonce: 144 bits, 24 URL-safe base64 characters, no padding."""

KNOWN_DIRECTIVES: Final = frozenset(
    {
        "base-uri",
        "block-all-mixed-content",
        "child-src",
        "connect-src",
        "default-src",
        "fenced-frame-src",
        "font-src",
        "form-action",
        "frame-ancestors",
        "frame-src",
        "img-src",
        "manifest-src",
        "media-src",
        "object-src",
        "report-to",
        "report-uri",
        "require-trusted-types-for",
        "sandbox",
        "script-src",
        "script-src-attr",
        "script-src-elem",
        "style-src",
        "style-src-attr",
        "style-src-elem",
        "trusted-types",
        "upgrade-insecure-requests",
        "worker-src",
    }
)
"""Directive names accepted in a configured policy (CSP Level 3 and Trusted Types)."""

VALUELESS_DIRECTIVES: Final = frozenset({"upgrade-insecure-requests", "block-all-mixed-content"})
"""Directives that take no value."""

KEYWORDS: Final = frozenset(
    {
        "self",
        "none",
        "unsafe-inline",
        "unsafe-eval",
        "unsafe-hashes",
        "strict-dynamic",
        "report-sample",
        "wasm-unsafe-eval",
        "unsafe-allow-redirects",
        "inline-speculation-rules",
        "trusted-types-eval",
        "nonce",
        "script",
        "allow-duplicates",
    }
)
"""Source keywords; they must be written in single quotes."""

_NAME = re.compile(r"[a-z][a-z0-9-]*")
_NONCE_OR_HASH = re.compile(r"'(nonce-[A-Za-z0-9+/_=-]+|sha(256|384|512)-[A-Za-z0-9+/_=-]+)'")
_FORBIDDEN = re.compile(r"[;,\x00-\x1f\x7f]")
_SCRIPT_DIRECTIVES: Final = ("script-src", "script-src-elem", "default-src")


def new_nonce() -> str:
    """Return a fresh nonce: 144 random bits from :mod:`secrets`, URL-safe base64, no padding."""
    return secrets.token_urlsafe(NONCE_BYTES)


def csp_nonce(request_or_scope: Any) -> str:
    """Return the CSP nonce of the current request, for ``<script nonce="...">``.

    Works with a Starlette/FastAPI ``Request`` (or anything with a ``scope``), or with
    the raw ASGI scope. In a Jinja2 template: ``<script nonce="{{ csp_nonce(request) }}">``
    after ``templates.env.globals["csp_nonce"] = csp_nonce``; ``request.state.csp_nonce``
    holds the same value.

    Raises:
        LookupError: The security-headers layer did not run for this request, or its
            policies use no ``'nonce'`` source.
    """
    scope = getattr(request_or_scope, "scope", request_or_scope)
    state = scope.get("state") if isinstance(scope, Mapping) else None
    nonce = state.get(CSP_NONCE_STATE_KEY) if isinstance(state, Mapping) else None
    if not isinstance(nonce, str):
        msg = (
            "no CSP nonce for this request: wrap the app in SecurityHeadersMiddleware (or harden()) "
            "with a policy that uses the 'nonce' source, for example \"script-src 'nonce' 'strict-dynamic'\""
        )
        raise LookupError(msg)
    return nonce


def split_policy(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Split one serialized policy into its directives, in order, repeats kept.

    The one CSP tokenizer of the package (CSP Level 3, "parse a serialized CSP"): the
    text is cut at ``;``, each part at ASCII whitespace; the first token is the
    directive name, lower-cased; the others are its sources, spelled as written; empty
    parts are skipped. :func:`parse_policy`, :func:`validate_policy`, the headers' rules
    and the Observatory grader (:mod:`hardening.observatory`) all read policies with it.
    """
    entries: list[tuple[str, tuple[str, ...]]] = []
    for part in text.split(";"):
        tokens = part.split()
        if tokens:
            entries.append((tokens[0].lower(), tuple(tokens[1:])))
    return entries


def parse_policy(text: str) -> dict[str, tuple[str, ...]]:
    """Parse one serialized policy leniently, as a browser does.

    Directive names are lower-cased; a repeated directive is ignored after its first
    occurrence; source expressions keep their spelling. Use :func:`validate_policy` for
    the strict start-up checks.
    """
    directives: dict[str, tuple[str, ...]] = {}
    for name, sources in split_policy(text):
        directives.setdefault(name, sources)
    return directives


def format_policy(directives: Mapping[str, tuple[str, ...]]) -> str:
    """Serialize directives as ``name value value; name ...``."""
    return "; ".join(" ".join((name, *values)) if values else name for name, values in directives.items())


def _problem(where: str, message: str) -> ValueError:
    return ValueError(f"{where}: {message}")


def validate_policy(value: str | Mapping[str, Any], *, where: str) -> dict[str, tuple[str, ...]]:
    """Check a configured policy strictly and return its directives.

    Args:
        value: The policy as CSP text, or a mapping of directive name to a source
            string or list of sources.
        where: The setting and its environment variable, for error messages, for
            example ``"headers.api.csp (HARDENING_HEADERS__API__CSP)"``.

    Raises:
        ValueError: With a message that names ``where``, the offending directive or
            source, and the fix.
    """
    items: list[tuple[str, tuple[str, ...]]] = []
    if isinstance(value, str):
        if "\r" in value or "\n" in value:
            raise _problem(where, "the policy contains CR/LF characters; write it on one line")
        if "," in value:
            raise _problem(where, "',' separates policies; configure one policy per setting")
        items = split_policy(value)
    else:
        for name, sources in value.items():
            listed = [sources] if isinstance(sources, str) else list(sources or ())
            items.append((str(name), tuple(token for item in listed for token in str(item).split())))
    if not items:
        raise _problem(where, "the policy is empty; leave the setting unset (None) to send no policy")
    directives: dict[str, tuple[str, ...]] = {}
    for raw_name, sources in items:
        name = raw_name.lower()
        if not _NAME.fullmatch(name) or name not in KNOWN_DIRECTIVES:
            raise _problem(
                where, f"unknown CSP directive {raw_name!r}; known directives: {', '.join(sorted(KNOWN_DIRECTIVES))}"
            )
        if name in directives:
            raise _problem(where, f"directive {name!r} appears twice; browsers ignore the second one, merge them")
        if name in VALUELESS_DIRECTIVES and sources:
            raise _problem(where, f"directive {name!r} takes no value, got {' '.join(sources)!r}")
        directives[name] = tuple(_check_source(name, source, where) for source in sources)
    for name in _SCRIPT_DIRECTIVES:
        sources = directives.get(name)
        if (
            sources
            and "'strict-dynamic'" in sources
            and not any(source == NONCE_SOURCE or _NONCE_OR_HASH.fullmatch(source) for source in sources)
        ):
            raise _problem(
                where,
                f"{name} uses 'strict-dynamic' without a nonce or hash, which blocks every script; "
                "add the 'nonce' source",
            )
    return directives


def _check_source(directive: str, source: str, where: str) -> str:
    if _FORBIDDEN.search(source):
        raise _problem(where, f"source {source!r} in {directive} contains ';', ',' or a control character")
    if not source.isascii():
        raise _problem(where, f"source {source!r} in {directive} is not ASCII; write the host in punycode")
    bare = source.lower()
    if bare in KEYWORDS or bare.startswith(("nonce-", "sha256-", "sha384-", "sha512-")):
        raise _problem(where, f"keyword {source!r} in {directive} must be quoted: write \"'{source}'\"")
    if source.startswith("'"):
        inner = source[1:-1].lower() if source.endswith("'") and len(source) > 1 else None
        if inner is None or not (inner in KEYWORDS or _NONCE_OR_HASH.fullmatch(source)):
            raise _problem(where, f"unknown quoted source {source!r} in {directive}")
    return source
