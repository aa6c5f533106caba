"""``SecurityHeadersConfig`` and its nested HSTS and reporting settings."""

from __future__ import annotations

import re
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from hardening._config import LayerConfig
from hardening.headers._leaky import LEAKY_HEADERS
from hardening.headers._profile import (
    API_PROFILE,
    DOCS_PROFILE,
    WEBAPP_PROFILE,
    HeaderProfile,
    ProfileName,
    check_header_text,
)
from hardening.headers.csp import parse_policy

__all__ = ("CSPReportingConfig", "HSTSConfig", "SecurityHeadersConfig")

PRELOAD_MIN_MAX_AGE: Final = 31_536_000
"""hstspreload.org asks for at least one year."""

MANAGED_HEADERS: Final = frozenset(
    {
        "content-security-policy",
        "content-security-policy-report-only",
        "strict-transport-security",
        "x-frame-options",
        "x-content-type-options",
        "referrer-policy",
        "permissions-policy",
        "cross-origin-opener-policy",
        "cross-origin-resource-policy",
        "cross-origin-embedder-policy",
        "cache-control",
        "x-permitted-cross-domain-policies",
        "origin-agent-cluster",
        "reporting-endpoints",
    }
)
"""Headers this layer can set; ``override`` may name any of them."""

_GROUP = re.compile(r"[A-Za-z0-9_-]+")
_PROFILE_DEFAULTS: Final = {"api": API_PROFILE, "webapp": WEBAPP_PROFILE, "docs": DOCS_PROFILE}


class HSTSConfig(BaseModel):
    """``Strict-Transport-Security``: sent only on HTTPS responses, never for localhost."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    enabled: bool = True
    """Send HSTS on HTTPS responses."""
    max_age: int = 63_072_000
    """Seconds browsers remember to use HTTPS only (two years)."""
    include_subdomains: bool = True
    """Apply the policy to every subdomain too."""
    preload: bool = False
    """Ask for HSTS preload-list inclusion; needs ``include_subdomains`` and one year."""

    @model_validator(mode="after")
    def _check(self) -> HSTSConfig:
        if self.max_age < 0:
            msg = f"max_age must be >= 0 seconds, got {self.max_age}; use 63072000 (two years)"
            raise ValueError(msg)
        if self.preload and (not self.include_subdomains or self.max_age < PRELOAD_MIN_MAX_AGE):
            msg = (
                f"preload needs include_subdomains=true and max_age >= {PRELOAD_MIN_MAX_AGE}; "
                "fix them or set preload=false"
            )
            raise ValueError(msg)
        return self


class CSPReportingConfig(BaseModel):
    """Where browsers send CSP violation reports, and the optional built-in receiver."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    endpoint: str | None = None
    """URL or absolute path that receives reports. Every policy then gets ``report-uri``
    and ``report-to``, and responses carry ``Reporting-Endpoints``. Defaults to
    ``receiver_path`` when the receiver is on."""
    group: str = "csp-endpoint"
    """The ``Reporting-Endpoints`` group name used by ``report-to``."""
    receiver: bool = False
    """Serve a built-in endpoint at ``receiver_path`` that logs reports (logger
    ``hardening.headers.csp``), size-capped and rate-limited."""
    receiver_path: str = "/.well-known/csp-reports"
    """Path of the built-in receiver (matched exactly on ``scope["path"]``)."""
    max_body_bytes: int = 16_384
    """Largest report body accepted by the receiver; larger ones get 413."""
    max_reports_per_minute: int = 60
    """Reports logged per minute, process-wide; the rest are answered 429 and counted."""

    @field_validator("endpoint", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check(self) -> CSPReportingConfig:
        if self.endpoint is not None:
            check_header_text(self.endpoint, "endpoint")
            if not self.endpoint.startswith(("https://", "http://", "/")) or any(
                char in self.endpoint for char in ' ";,'
            ):
                msg = (
                    "endpoint: expected an absolute URL or a path starting with '/', without spaces, quotes, ';' or ','"
                )
                raise ValueError(msg)
        if not _GROUP.fullmatch(self.group):
            msg = "group: use letters, digits, '-' and '_' only"
            raise ValueError(msg)
        if not self.receiver_path.startswith("/") or any(char in self.receiver_path for char in ' ";,?#'):
            msg = "receiver_path: expected a path such as '/csp'"
            raise ValueError(msg)
        for name in ("max_body_bytes", "max_reports_per_minute"):
            if getattr(self, name) < 1:
                msg = f"{name}: must be at least 1"
                raise ValueError(msg)
        return self

    @property
    def effective_endpoint(self) -> str | None:
        """The report URL browsers are told about, or ``None`` when reporting is off."""
        if self.endpoint is not None:
            return self.endpoint
        return self.receiver_path if self.receiver else None


class SecurityHeadersConfig(LayerConfig):
    """Security headers per response class, HSTS, CSP nonces and reports, leaky-header removal.

    The profile is chosen per response: ``path_profiles`` first (longest matching prefix
    of ``scope["path"]``), then the content type (HTML gets ``webapp``, everything else
    ``api``). Headers the app set itself are kept, except those named in ``override``.
    """

    enabled: bool = True
    """Whether this layer is part of the stack."""
    api: HeaderProfile = API_PROFILE
    """Headers for JSON, problem+json and every other non-HTML response."""
    webapp: HeaderProfile = WEBAPP_PROFILE
    """Headers for HTML pages (``text/html``, ``application/xhtml+xml``)."""
    docs: HeaderProfile = DOCS_PROFILE
    """Headers for the API documentation pages (Swagger UI, ReDoc)."""
    path_profiles: dict[str, ProfileName] = {"/docs": "docs", "/redoc": "docs"}
    """Path prefixes that force a profile, whatever the content type (segment-wise match:
    ``/docs`` matches ``/docs/oauth2-redirect`` but not ``/docsearch``)."""
    hsts: HSTSConfig = HSTSConfig()
    """``Strict-Transport-Security``, sent only on HTTPS responses and never for localhost."""
    reporting: CSPReportingConfig = CSPReportingConfig()
    """CSP violation reporting: ``report-uri``/``report-to``, ``Reporting-Endpoints``, receiver."""
    remove: tuple[str, ...] = LEAKY_HEADERS
    """Response headers always removed (``Server``, ``X-Powered-By`` and the OWASP list of
    headers that leak the stack)."""
    override: tuple[str, ...] = ()
    """Headers where this layer's value replaces one the app set (default: the app wins)."""

    @field_validator("api", "webapp", "docs", mode="before")
    @classmethod
    def _merge_profile(cls, value: Any, info: Any) -> Any:
        """Validate a profile given as a mapping on top of that profile's defaults."""
        if not isinstance(value, dict):
            return value
        # validated as a HeaderProfile next, so its errors keep their field's location
        return _PROFILE_DEFAULTS[info.field_name].model_dump() | value

    @field_validator("path_profiles")
    @classmethod
    def _check_paths(cls, value: dict[str, ProfileName]) -> dict[str, ProfileName]:
        for path in value:
            if not path.startswith("/") or (path != path.rstrip("/") and path != "/"):
                msg = f"{path!r} must start with '/' and not end with '/'"
                raise ValueError(msg)
        return value

    @field_validator("remove", "override", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("remove", "override")
    @classmethod
    def _lower(cls, value: tuple[str, ...], info: Any) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(item.strip().lower() for item in value))
        if info.field_name == "override":
            unknown = sorted(set(names) - MANAGED_HEADERS)
            if unknown:
                msg = f"{', '.join(unknown)} not set by this layer; choose from {', '.join(sorted(MANAGED_HEADERS))}"
                raise ValueError(msg)
        return names

    @model_validator(mode="after")
    def _check_report_groups(self) -> SecurityHeadersConfig:
        group = self.reporting.group if self.reporting.effective_endpoint else None
        for name in ("api", "webapp", "docs"):
            profile: HeaderProfile = getattr(self, name)
            for field in ("csp", "csp_report_only"):
                text = getattr(profile, field)
                if text is None:
                    continue
                for target in parse_policy(text).get("report-to", ()):
                    if target != group:
                        msg = (
                            f"{name}.{field}: report-to {target!r} has no Reporting-Endpoints entry; set "
                            f"reporting.endpoint and reporting.group to {target!r}, or drop report-to (it is "
                            "added for you)"
                        )
                        raise ValueError(msg)
        return self

    def profile(self, name: ProfileName) -> HeaderProfile:
        """Return the profile called ``name``."""
        profile: HeaderProfile = getattr(self, name)
        return profile
