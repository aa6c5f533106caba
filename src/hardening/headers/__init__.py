"""Security headers: per-response-class profiles, CSP nonces, HSTS, reports, leak removal.

``SecurityHeadersConfig`` + ``SecurityHeadersMiddleware`` (pure ASGI). Header values are
rendered once, at start-up, through the ``secure`` package's builders (the ``headers``
extra); only the CSP nonce changes per request.
"""

from __future__ import annotations

from hardening.headers._config import CSPReportingConfig, HSTSConfig, SecurityHeadersConfig
from hardening.headers._leaky import LEAKY_HEADERS
from hardening.headers._middleware import SecurityHeadersMiddleware
from hardening.headers._profile import API_PROFILE, DOCS_PROFILE, WEBAPP_PROFILE, HeaderProfile, ProfileName
from hardening.headers._rules import CHECKS
from hardening.headers.csp import csp_nonce

__all__ = (
    "API_PROFILE",
    "CHECKS",
    "DOCS_PROFILE",
    "LEAKY_HEADERS",
    "WEBAPP_PROFILE",
    "CSPReportingConfig",
    "HSTSConfig",
    "HeaderProfile",
    "ProfileName",
    "SecurityHeadersConfig",
    "SecurityHeadersMiddleware",
    "csp_nonce",
)
