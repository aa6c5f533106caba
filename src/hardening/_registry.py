"""The layer registry: every capability, declared once.

:data:`LAYERS` is the one ordered list of layers, outermost first (the reasons are in
the "Layer order" guide). It drives :func:`hardening.harden` and
:func:`hardening.middleware_list`, the audit's discovery of layers and
:data:`~hardening.audit.EXPECTED_LAYERS`, and (with :data:`CONFIGS`, the configs
that are not layers) the production rules :func:`hardening.checks.run_checks` runs.

1. request ID, 2. access log: they see every request and time all of it;
3. error guard: any exception inside becomes a problem+json 500 with the request ID;
4. tracing span;
5. security headers: every response below carries them, 4xx and 5xx included, and the
   health answers too;
6. health endpoints: answered before host checks, since probes send the pod IP as Host;
7. trusted hosts; 8. HTTPS redirect (after the host check, so it never redirects to a
   foreign host);
9. CORS: 413, 429 and 500 responses from inside still carry CORS headers;
10. CSRF (Fetch Metadata);
11. body size limit; 12. rate limiting; then the app.

Adding a capability is one new module (its config, middleware and rules) and one entry
here; ``CONTRIBUTING.md`` ("Adding a layer") shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel

from hardening import bodylimit, csrf, errorguard, hosts, httpsredirect, pool
from hardening.clientip import ProxyConfig
from hardening.cors import CHECKS as CORS_RULES
from hardening.cors import CORSConfig, CORSMiddleware
from hardening.findings import Rule
from hardening.headers import CHECKS as HEADER_RULES
from hardening.headers import SecurityHeadersConfig, SecurityHeadersMiddleware
from hardening.health import CHECKS as HEALTH_RULES
from hardening.health import HealthConfig, HealthMiddleware
from hardening.logs import CHECKS as LOG_RULES
from hardening.logs import AccessLogConfig, AccessLogMiddleware, LoggingConfig, RequestIdConfig, RequestIdMiddleware
from hardening.monitoring import CHECKS as MONITORING_RULES
from hardening.monitoring import SentryConfig, TracingConfig, TracingMiddleware
from hardening.ratelimit import CHECKS as RATE_LIMIT_RULES
from hardening.ratelimit import RateLimitConfig, RateLimitMiddleware

__all__ = ("CONFIGS", "LAYERS", "Layer", "all_entries", "entry_of", "rules")


@dataclass(frozen=True, slots=True)
class Layer:
    """One capability as the registry knows it.

    Attributes:
        name: Its name: the :class:`hardening.HardeningSettings` field that holds its
            config (``HARDENING_<NAME>__*``), and the name the audit reports.
        config: Its config class; a layer's is a :class:`~hardening._config.LayerConfig`.
        middleware: Its pure ASGI middleware class, ``XMiddleware(app, config, *,
            context=None)``; ``None`` for a config that is not a layer (rules only).
        rules: Its production rules, each called with the settings.
        expected: Whether a production stack should have this layer (the audit says
            so when it is missing).
        optional: Whether the layer, on by default, is left out (with one log line)
            when its optional dependency is missing and ``enabled`` was not set
            explicitly; otherwise the missing extra stops start-up.
    """

    name: str
    config: type[BaseModel]
    middleware: type | None = None
    rules: tuple[Rule, ...] = ()
    expected: bool = False
    optional: bool = False


LAYERS: Final[tuple[Layer, ...]] = (
    Layer("request_id", RequestIdConfig, RequestIdMiddleware, expected=True),
    Layer("access_log", AccessLogConfig, AccessLogMiddleware),
    Layer("errors", errorguard.ErrorGuardConfig, errorguard.ErrorGuardMiddleware, errorguard.CHECKS, expected=True),
    Layer("tracing", TracingConfig, TracingMiddleware, optional=True),
    Layer("headers", SecurityHeadersConfig, SecurityHeadersMiddleware, HEADER_RULES, expected=True),
    Layer("health", HealthConfig, HealthMiddleware, HEALTH_RULES, expected=True),
    Layer("hosts", hosts.TrustedHostConfig, hosts.TrustedHostMiddleware, hosts.CHECKS, expected=True),
    Layer(
        "https_redirect", httpsredirect.HTTPSRedirectConfig, httpsredirect.HTTPSRedirectMiddleware, httpsredirect.CHECKS
    ),
    Layer("cors", CORSConfig, CORSMiddleware, CORS_RULES, expected=True),
    Layer("csrf", csrf.CSRFConfig, csrf.CSRFMiddleware, csrf.CHECKS),
    Layer("body_limit", bodylimit.BodyLimitConfig, bodylimit.BodyLimitMiddleware, bodylimit.CHECKS, expected=True),
    Layer("rate_limit", RateLimitConfig, RateLimitMiddleware, RATE_LIMIT_RULES, expected=True),
)
"""Every layer, outermost first: the order of :func:`hardening.harden`."""

CONFIGS: Final[tuple[Layer, ...]] = (
    Layer("proxy", ProxyConfig),
    Layer("logging", LoggingConfig, rules=LOG_RULES),
    Layer("sentry", SentryConfig, rules=MONITORING_RULES),
    Layer("pool", pool.PoolConfig, rules=pool.CHECKS),
)
"""Configs that are not layers: shared facts (the proxies) and set-up with rules."""


def all_entries() -> tuple[Layer, ...]:
    """Return every registered entry: the layers, then the other configs."""
    return (*LAYERS, *CONFIGS)


def entry_of(config: BaseModel) -> Layer:
    """Return the layer whose config ``config`` is.

    Raises:
        LookupError: No registered layer has that config class.
    """
    for layer in LAYERS:
        if type(config) is layer.config:
            return layer
    for layer in LAYERS:
        if isinstance(config, layer.config):
            return layer
    msg = f"{type(config).__name__} is not the config of a registered layer"
    raise LookupError(msg)


def rules() -> list[Rule]:
    """Return every registered production rule, in registry order."""
    return [rule for entry in all_entries() for rule in entry.rules]
