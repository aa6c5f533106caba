"""The audit's checks: stable IDs, priorities, what each protects against and the fix.

Priorities follow the production-readiness gap report the project started from:
``P0`` blockers (must fix before launch), ``P1`` critical (fix before public launch),
``P2`` important (fix soon after launch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ("CATALOG", "CATEGORIES", "Category", "CheckSpec", "Priority")

Priority = Literal["P0", "P1", "P2"]
"""How urgent a failed check is: ``P0`` blocker, ``P1`` critical, ``P2`` important."""

Category = Literal["Security", "Reliability", "Observability", "Configuration"]
"""The risk-table row a check belongs to."""

CATEGORIES: Final[tuple[Category, ...]] = ("Security", "Reliability", "Observability", "Configuration")
"""Risk-table rows, in report order."""


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One audit check, described once.

    Attributes:
        id: The stable ID, for example ``"AUD-HDR-003"``.
        priority: ``P0``, ``P1`` or ``P2``.
        category: The risk-table row.
        title: What the check wants to see, in a few words.
        impact: What goes wrong without it.
        fix: How to fix it with ``hardening`` (the setting and its environment variable).
        guide: The docs page that explains the fix.
    """

    id: str
    priority: Priority
    category: Category
    title: str
    impact: str
    fix: str
    guide: str


_HDR = "docs/capabilities/security-headers.md"
_CORS = "docs/capabilities/cors.md"
_HOSTS = "docs/capabilities/trusted-hosts.md"
_RL = "docs/capabilities/rate-limiting.md"
_HEALTH = "docs/capabilities/health.md"
_ERR = "docs/capabilities/errors-and-validation.md"
_RID = "docs/capabilities/request-ids.md"
_CONF = "docs/capabilities/configuration.md"
_ORDER = "docs/guides/layer-order.md"

_SPECS: Final = (
    CheckSpec(
        "AUD-HDR-001",
        "P1",
        "Security",
        "Security headers grade A or better (MDN Observatory v6)",
        "Browsers get no defence in depth against XSS, clickjacking and MIME sniffing.",
        "Wrap the app with `harden()`; the security-headers layer is on by default "
        "(`HARDENING_HEADERS__ENABLED=true`).",
        _HDR,
    ),
    CheckSpec(
        "AUD-HDR-002",
        "P1",
        "Security",
        "Content-Security-Policy fits the response class",
        "Injected scripts run; API responses can be rendered as active content.",
        "Keep the profile CSPs (`HARDENING_HEADERS__API__CSP`, `HARDENING_HEADERS__WEBAPP__CSP`); "
        "APIs want `default-src 'none'; frame-ancestors 'none'`.",
        _HDR,
    ),
    CheckSpec(
        "AUD-HDR-003",
        "P1",
        "Security",
        "X-Content-Type-Options: nosniff",
        "Browsers may sniff an upload or JSON answer as HTML or script.",
        "`HARDENING_HEADERS__API__X_CONTENT_TYPE_OPTIONS=true` (the default of the headers layer).",
        _HDR,
    ),
    CheckSpec(
        "AUD-HDR-004",
        "P1",
        "Security",
        "Framing forbidden (X-Frame-Options or CSP frame-ancestors)",
        "Pages can be framed by any site (clickjacking).",
        "`HARDENING_HEADERS__API__X_FRAME_OPTIONS=DENY` and `frame-ancestors 'none'` in the CSP.",
        _HDR,
    ),
    CheckSpec(
        "AUD-HDR-005",
        "P1",
        "Security",
        "Strict-Transport-Security for at least six months on HTTPS",
        "A network attacker can downgrade the first request to plain HTTP.",
        "`HARDENING_HEADERS__HSTS__MAX_AGE=63072000` (the default; sent on HTTPS responses only, "
        "so set `HARDENING_PROXY__TRUSTED_PROXIES` behind a TLS-terminating proxy).",
        _HDR,
    ),
    CheckSpec(
        "AUD-HDR-006",
        "P2",
        "Security",
        "A private Referrer-Policy",
        "Full URLs (tokens in query strings included) leak to other sites in `Referer`.",
        "`HARDENING_HEADERS__API__REFERRER_POLICY=no-referrer`.",
        _HDR,
    ),
    CheckSpec(
        "AUD-HDR-007",
        "P2",
        "Security",
        "Cross-origin isolation headers (COOP and CORP)",
        "Other sites can open windows onto, or embed, the responses (XS-Leaks, Spectre).",
        "`HARDENING_HEADERS__API__CROSS_ORIGIN_OPENER_POLICY=same-origin` and "
        "`HARDENING_HEADERS__API__CROSS_ORIGIN_RESOURCE_POLICY=same-origin`.",
        _HDR,
    ),
    CheckSpec(
        "AUD-HDR-008",
        "P2",
        "Security",
        "API responses not stored by shared caches (Cache-Control)",
        "A proxy or browser cache can keep personal data and serve it to someone else.",
        "`HARDENING_HEADERS__API__CACHE_CONTROL=no-store` (the API profile default).",
        _HDR,
    ),
    CheckSpec(
        "AUD-LEAK-001",
        "P2",
        "Security",
        "No Server or X-Powered-By header naming the stack",
        "Attackers learn the exact server and framework to match against known CVEs.",
        "The headers layer removes them (`HARDENING_HEADERS__REMOVE`); the ASGI server adds its own "
        "`Server` afterwards: run `uvicorn --no-server-header` (or `server_header=False`).",
        _HDR,
    ),
    CheckSpec(
        "AUD-CORS-001",
        "P0",
        "Security",
        "An arbitrary origin is not granted credentialed access",
        "Any website can read authenticated responses on behalf of a logged-in user.",
        "List the origins: `HARDENING_CORS__ALLOW_ORIGINS=https://app.example.com`; never reflect the "
        "`Origin` header together with `Access-Control-Allow-Credentials: true`.",
        _CORS,
    ),
    CheckSpec(
        "AUD-CORS-002",
        "P2",
        "Security",
        "An arbitrary origin is not allowed to read responses",
        "Any website can read the API's responses (acceptable only for public data).",
        "`HARDENING_CORS__ALLOW_ORIGINS` with the exact origins of your front ends.",
        _CORS,
    ),
    CheckSpec(
        "AUD-CORS-003",
        "P1",
        "Security",
        "Vary: Origin on responses whose CORS headers depend on the origin",
        "A cache serves one origin's CORS answer to another (cache poisoning, broken clients).",
        "The CORS layer always adds `Vary: Origin` (`HARDENING_CORS__ENABLED=true`).",
        _CORS,
    ),
    CheckSpec(
        "AUD-CORS-004",
        "P2",
        "Security",
        "Preflights answered by an explicit CORS policy",
        "Without a policy, browser clients on other origins fail (or someone adds a permissive one in a hurry).",
        "`HARDENING_CORS__ALLOW_ORIGINS`, `HARDENING_CORS__ALLOW_METHODS`, `HARDENING_CORS__MAX_AGE`.",
        _CORS,
    ),
    CheckSpec(
        "AUD-HOST-001",
        "P1",
        "Security",
        "Requests for a foreign Host are refused",
        "Host-header attacks: poisoned password-reset links, cache poisoning, routing to internal vhosts.",
        "`HARDENING_HOSTS__ALLOWED_HOSTS=api.example.com` (the trusted-hosts layer answers 400).",
        _HOSTS,
    ),
    CheckSpec(
        "AUD-RUN-001",
        "P1",
        "Configuration",
        "The probes reach the app",
        "Every request was refused by a host check, so nothing behind it could be checked.",
        "Pass the Host the service answers (`--host api.example.com`), or list it in `HARDENING_HOSTS__ALLOWED_HOSTS`.",
        _HOSTS,
    ),
    CheckSpec(
        "AUD-RL-001",
        "P1",
        "Security",
        "A short burst meets 429 Too Many Requests",
        "Abuse, credential stuffing and runaway clients reach the app (and its costly dependencies).",
        "`HARDENING_RATE_LIMIT__DEFAULT_LIMITS=50/second;1000/minute` with a shared store "
        "(`HARDENING_RATE_LIMIT__STORAGE_URI=async+redis://...`).",
        _RL,
    ),
    CheckSpec(
        "AUD-RL-002",
        "P2",
        "Security",
        "429 answers carry Retry-After",
        "Well-behaved clients cannot back off, and retry at once.",
        "The rate-limit layer sends `Retry-After` on every 429.",
        _RL,
    ),
    CheckSpec(
        "AUD-RL-003",
        "P2",
        "Security",
        "Rate-limit headers tell clients their quota",
        "Clients cannot pace themselves before they hit the limit.",
        "`HARDENING_RATE_LIMIT__HEADERS=true` (IETF `RateLimit-Policy`/`RateLimit`).",
        _RL,
    ),
    CheckSpec(
        "AUD-HEALTH-001",
        "P0",
        "Reliability",
        "A health endpoint exists",
        "Orchestrators and monitors cannot tell a dead or stuck instance from a healthy one.",
        "`harden()` serves `/livez`, `/readyz`, `/startupz` and `/health` (`HARDENING_HEALTH__ENABLED=true`).",
        _HEALTH,
    ),
    CheckSpec(
        "AUD-HEALTH-002",
        "P1",
        "Reliability",
        "A liveness endpoint (/livez or /healthz) answers 200",
        "A hung process is never restarted.",
        "`HARDENING_HEALTH__LIVENESS_PATH=/livez`.",
        _HEALTH,
    ),
    CheckSpec(
        "AUD-HEALTH-003",
        "P1",
        "Reliability",
        "A readiness endpoint (/readyz) exists",
        "Traffic reaches instances whose database or cache is down, and during start-up and shutdown.",
        "`HARDENING_HEALTH__READINESS_PATH=/readyz` with your dependency checks in a `HealthRegistry`.",
        _HEALTH,
    ),
    CheckSpec(
        "AUD-HEALTH-004",
        "P2",
        "Reliability",
        "A detailed view in application/health+json",
        "Monitoring cannot see which dependency is failing.",
        "`HARDENING_HEALTH__HEALTH_PATH=/health`.",
        _HEALTH,
    ),
    CheckSpec(
        "AUD-HEALTH-005",
        "P2",
        "Reliability",
        "Health endpoints answer within one second",
        "Probes time out under load and healthy instances get restarted.",
        "`HARDENING_HEALTH__DEADLINE=0.8` and cached checks (`HARDENING_HEALTH__PASS_TTL`).",
        _HEALTH,
    ),
    CheckSpec(
        "AUD-ERR-001",
        "P2",
        "Reliability",
        "404 answers application/problem+json",
        "Clients get a different error shape from every layer and framework.",
        "Call `hardening.install_problem_handlers(app)` (Starlette and FastAPI).",
        _ERR,
    ),
    CheckSpec(
        "AUD-ERR-002",
        "P2",
        "Reliability",
        "405 answers application/problem+json with Allow",
        "Clients cannot tell which methods a resource supports.",
        "Call `hardening.install_problem_handlers(app)`.",
        _ERR,
    ),
    CheckSpec(
        "AUD-ERR-003",
        "P1",
        "Reliability",
        "Malformed JSON gets a 4xx, not a 500",
        "Bad input crashes handlers: 500s page the on-call, and invalid data may get through.",
        "Read bodies with `hardening.parse_body` / `@validate`, or FastAPI models with "
        "`install_problem_handlers(app)`.",
        _ERR,
    ),
    CheckSpec(
        "AUD-ERR-004",
        "P1",
        "Reliability",
        "An oversized body is refused with 413",
        "One large upload can exhaust memory or disk (denial of service).",
        "`HARDENING_BODY_LIMIT__MAX_BYTES=1MiB` (per path: `HARDENING_BODY_LIMIT__PATHS`).",
        _ERR,
    ),
    CheckSpec(
        "AUD-ERR-005",
        "P0",
        "Security",
        "No traceback in any error response",
        "Source paths, code and sometimes secrets are shown to anyone who triggers an error.",
        "Wrap the app with `harden()` (error guard, `HARDENING_ERRORS__ENABLED=true`) and never run "
        "with `debug=True` in production.",
        _ERR,
    ),
    CheckSpec(
        "AUD-ERR-006",
        "P1",
        "Security",
        "Error responses name no framework, server or version",
        "Attackers fingerprint the stack and its version.",
        "`hardening.install_problem_handlers(app)` and the error guard answer neutral problem documents.",
        _ERR,
    ),
    CheckSpec(
        "AUD-ERR-007",
        "P2",
        "Reliability",
        "Bad input answers application/problem+json",
        "Clients must parse one error shape per framework and layer.",
        "Call `hardening.install_problem_handlers(app)`; the body-limit layer answers problem+json 413s.",
        _ERR,
    ),
    CheckSpec(
        "AUD-RID-001",
        "P2",
        "Observability",
        "Every response carries a request ID",
        "Support cannot match a user's failed request to its log lines.",
        "`HARDENING_REQUEST_ID__ENABLED=true` (header `HARDENING_REQUEST_ID__HEADER_NAME=X-Request-ID`).",
        _RID,
    ),
    CheckSpec(
        "AUD-RID-002",
        "P2",
        "Observability",
        "An incoming request ID is echoed",
        "A request cannot be followed across the proxy, this service and its callers.",
        "`HARDENING_REQUEST_ID__TRUST_INCOMING=true` (with `HARDENING_REQUEST_ID__TRUSTED_SOURCES_ONLY` "
        "behind a proxy).",
        _RID,
    ),
    CheckSpec(
        "AUD-SET-001",
        "P1",
        "Configuration",
        "Settings are checked for production",
        "Development defaults (permissive hosts, debug details) can reach production.",
        "`HARDENING_ENVIRONMENT=production` (missing or unknown also means production).",
        _CONF,
    ),
    CheckSpec(
        "AUD-SET-002",
        "P0",
        "Configuration",
        "Every required setting is present and valid",
        "The service starts with missing or invalid configuration and fails later, in front of users.",
        "Set the variables listed in the evidence; `hardening env check` shows them all at once.",
        _CONF,
    ),
    CheckSpec(
        "AUD-STACK-001",
        "P2",
        "Configuration",
        "The hardening layers are in the stack",
        "Each missing layer leaves its class of failure unhandled.",
        "Wrap the app: `app = harden(app, settings)`; the layer order is fixed by `harden()`.",
        _ORDER,
    ),
)

CATALOG: Final[dict[str, CheckSpec]] = {item.id: item for item in _SPECS}
"""Every audit check, by ID (production rules run with ``--settings`` keep their own IDs)."""
