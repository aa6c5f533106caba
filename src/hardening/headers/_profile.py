"""``HeaderProfile``: the headers sent for one class of response, with the three defaults."""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from hardening.headers.csp import format_policy, validate_policy

__all__ = ("API_PROFILE", "DOCS_PROFILE", "WEBAPP_PROFILE", "HeaderProfile", "ProfileName")

ProfileName = Literal["api", "webapp", "docs"]
"""The response classes the security-headers layer knows."""

REFERRER_TOKENS: Final = frozenset(
    {
        "no-referrer",
        "no-referrer-when-downgrade",
        "origin",
        "origin-when-cross-origin",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
        "unsafe-url",
    }
)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FEATURE = re.compile(r"([a-z][a-z0-9-]*)=(\*|\(\s*\)|\(([^()]*)\))")
_CACHE_DIRECTIVE = re.compile(r"[a-z-]+(=(\d+|\"[^\"]*\"|[a-z0-9-]+))?")


def _where(info: ValidationInfo) -> str:
    """Return the field being validated, for error messages (the loader adds its variable)."""
    return str(info.field_name)


def check_header_text(value: str, where: str) -> str:
    """Reject CR/LF, control characters and non-Latin-1 text in a header value."""
    if any((ord(char) < 0x20 and char != "\t") or ord(char) == 0x7F for char in value):
        msg = f"{where}: the value contains CR/LF or another control character (header injection)"
        raise ValueError(msg)
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        msg = f"{where}: the value is not Latin-1 text, which HTTP headers cannot carry"
        raise ValueError(msg) from None
    return value.strip()


class HeaderProfile(BaseModel):
    """The security headers sent for one class of response (JSON, HTML, API docs).

    Every field can be overridden; ``None`` (``off`` in the environment) means the
    header is not sent.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    csp: str | None = None
    """Enforced ``Content-Security-Policy``. The source ``'nonce'`` becomes a fresh
    per-request ``'nonce-...'``."""
    csp_report_only: str | None = None
    """``Content-Security-Policy-Report-Only``, sent alongside the enforced policy (for
    trying out a stricter policy)."""
    x_frame_options: Literal["DENY", "SAMEORIGIN"] | None = "DENY"
    """``X-Frame-Options``; keep it consistent with CSP ``frame-ancestors``."""
    x_content_type_options: bool = True
    """Send ``X-Content-Type-Options: nosniff``."""
    referrer_policy: str | None = "no-referrer"
    """``Referrer-Policy``: one token, or a comma-separated fallback list (last wins)."""
    permissions_policy: str | None = None
    """``Permissions-Policy``, for example ``"camera=(), geolocation=(self)"``."""
    cross_origin_opener_policy: (
        Literal["same-origin", "same-origin-allow-popups", "noopener-allow-popups", "unsafe-none"] | None
    ) = "same-origin"
    """``Cross-Origin-Opener-Policy``; ``same-origin-allow-popups`` for OAuth or payment popups."""
    cross_origin_resource_policy: Literal["same-origin", "same-site", "cross-origin"] | None = "same-origin"
    """``Cross-Origin-Resource-Policy``; ``same-site`` when sibling subdomains embed the resources."""
    cross_origin_embedder_policy: Literal["require-corp", "credentialless", "unsafe-none"] | None = None
    """``Cross-Origin-Embedder-Policy`` (cross-origin isolation). Breaks cross-origin embeds
    that do not opt in, so it is off for HTML."""
    cache_control: str | None = None
    """``Cache-Control`` for responses that set none themselves."""
    x_permitted_cross_domain_policies: Literal["none", "master-only", "by-content-type", "all"] | None = "none"
    """``X-Permitted-Cross-Domain-Policies`` (Flash/Acrobat cross-domain policy files)."""
    origin_agent_cluster: bool = False
    """Send ``Origin-Agent-Cluster: ?1`` (origin-keyed agent clusters)."""
    extra: dict[str, str] = {}
    """More headers to send, name to value (validated like the others)."""

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("", "off") and info.field_name != "extra":
            return None
        return value

    @field_validator("csp", "csp_report_only")
    @classmethod
    def _check_csp(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        return format_policy(validate_policy(value, where=_where(info)))

    @field_validator("referrer_policy")
    @classmethod
    def _check_referrer(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        tokens = [token.strip().lower() for token in value.split(",") if token.strip()]
        seen: set[str] = set()
        for token in tokens:
            if token not in REFERRER_TOKENS:
                msg = f"{_where(info)}: unknown policy {token!r}; expected one of {', '.join(sorted(REFERRER_TOKENS))}"
                raise ValueError(msg)
            if token in seen:
                msg = f"{_where(info)}: policy {token!r} is listed twice"
                raise ValueError(msg)
            seen.add(token)
        if not tokens:
            return None
        return ", ".join(tokens)

    @field_validator("permissions_policy")
    @classmethod
    def _check_permissions(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        where = _where(info)
        check_header_text(value, where)
        features: list[str] = []
        for item in value.split(","):
            match = _FEATURE.fullmatch(item.strip())
            if match is None:
                msg = f"{where}: {item.strip()!r} is not 'feature=()', 'feature=*' or 'feature=(self \"https://x\")'"
                raise ValueError(msg)
            if match.group(1) in features:
                msg = f"{where}: feature {match.group(1)!r} is listed twice"
                raise ValueError(msg)
            features.append(match.group(1))
        return ", ".join(item.strip() for item in value.split(","))

    @field_validator("cache_control")
    @classmethod
    def _check_cache_control(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        where = _where(info)
        check_header_text(value, where)
        directives = [item.strip().lower() for item in value.split(",")]
        for directive in directives:
            if not _CACHE_DIRECTIVE.fullmatch(directive):
                msg = f"{where}: {directive!r} is not a Cache-Control directive such as 'no-store' or 'max-age=0'"
                raise ValueError(msg)
        return ", ".join(directives)

    @field_validator("extra")
    @classmethod
    def _check_extra(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        where = _where(info)
        checked: dict[str, str] = {}
        for name, text in value.items():
            if not _TOKEN.fullmatch(name):
                msg = f"{where}: {name!r} is not a valid header name"
                raise ValueError(msg)
            if name.lower() in checked:
                msg = f"{where}: header {name!r} is listed twice"
                raise ValueError(msg)
            checked[name.lower()] = check_header_text(text, f"{where}[{name!r}]")
        return checked


_API_CSP: Final = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_WEBAPP_CSP: Final = (
    "default-src 'self'; script-src 'nonce' 'strict-dynamic'; style-src 'self' 'nonce'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'self'; form-action 'self'; upgrade-insecure-requests"
)
_DOCS_CSP: Final = (  # for hardening.openapi.serve_swagger_ui: local assets, nonce scripts
    "default-src 'none'; script-src 'nonce' 'strict-dynamic'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
_PERMISSIONS_DENY: Final = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
    "hid=(), idle-detection=(), magnetometer=(), microphone=(), midi=(), payment=(), serial=(), "
    "usb=(), xr-spatial-tracking=(), browsing-topics=()"
)

API_PROFILE: Final = HeaderProfile(
    csp=_API_CSP,
    x_frame_options="DENY",
    referrer_policy="no-referrer",
    cross_origin_embedder_policy="require-corp",
    cache_control="no-store",
)
"""JSON and problem+json responses: nothing may load, nothing may frame, nothing is cached."""

WEBAPP_PROFILE: Final = HeaderProfile(
    csp=_WEBAPP_CSP,
    x_frame_options="SAMEORIGIN",
    referrer_policy="strict-origin-when-cross-origin",
    permissions_policy=_PERMISSIONS_DENY,
    origin_agent_cluster=True,
)
"""HTML pages: nonce-based strict CSP, Permissions-Policy deny-list, no COEP."""

DOCS_PROFILE: Final = HeaderProfile(
    csp=_DOCS_CSP,
    x_frame_options="DENY",
    referrer_policy="strict-origin-when-cross-origin",
    x_permitted_cross_domain_policies="none",
)
"""API docs pages: Swagger UI served by :func:`hardening.openapi.serve_swagger_ui` (assets from
the app itself, both scripts carrying the nonce; no CDN, no ``'unsafe-inline'``)."""
