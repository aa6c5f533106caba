"""``RateLimitConfig`` and ``RateLimitRule``: what is limited and how.

They also say what happens when the store fails. Every limit string is parsed here, at
start-up, never per request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from hardening._config import LayerConfig
from hardening._imports import require
from hardening._paths import HEALTH_PROBE_PATHS, check_path_prefixes
from hardening.errors import SafeValueError
from hardening.ratelimit.windows import Limit, Strategy

__all__ = (
    "DEFAULT_EXEMPT_PATHS",
    "FailureMode",
    "FallbackScale",
    "KeyKind",
    "PolicyOptions",
    "RateLimitConfig",
    "RateLimitRule",
    "parse_limits",
    "storage_kind",
)

FailureMode = Literal["fallback", "open", "closed"]
"""What a policy does while the store is unavailable: count in local memory
(``fallback``), let every request through (``open``), or answer 503 (``closed``)."""

FallbackScale = Literal["per_worker", "same"]
"""How fallback limits relate to the configured ones: divided by ``workers * replicas``
so the aggregate stays near the global quota (``per_worker``), or kept the ``same``."""

KeyKind = Literal["ip", "api_key", "user"]
"""Who a bucket belongs to: the client address, the API key, or the authenticated user."""

DEFAULT_EXEMPT_PATHS: Final = HEALTH_PROBE_PATHS
"""Health endpoints, never rate limited: a probe must not be answered 429."""

_NAME: Final = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_ASYNC_SCHEMES: Final = {
    "redis": "async+redis",
    "rediss": "async+rediss",
    "redis+unix": "async+redis+unix",
    "redis+cluster": "async+redis+cluster",
    "redis+sentinel": "async+redis+sentinel",
    "memory": "async+memory",
    "memcached": "async+memcached",
    "valkey": "async+valkey",
    "valkeys": "async+valkeys",
    "valkey+unix": "async+valkey+unix",
    "valkey+cluster": "async+valkey+cluster",
    "valkey+sentinel": "async+valkey+sentinel",
    "mongodb": "async+mongodb",
    "mongodb+srv": "async+mongodb+srv",
}
_OWN_REDIS: Final = frozenset(
    {"async+redis", "async+rediss", "async+redis+unix", "async+redis+sentinel", "async+redis+cluster"}
)


def parse_limits(text: str) -> tuple[Limit, ...]:
    """Parse ``"10/second;1000/hour"`` into limits, or fail describing what is wrong.

    Uses ``limits.parse_many``: separators ``;``, ``,`` or ``|``; units second, minute,
    hour, day, month (30 days), year (360 days); ``"100 per 7 days"`` works. An empty
    string means no limits.

    Raises:
        ValueError: The string is not a list of limits.
    """
    if not text.strip():
        return ()
    limits_mod = require("limits", extra="ratelimit", feature="rate limiting")
    try:
        items = limits_mod.parse_many(text)
    except ValueError:
        msg = f"must be limits such as '10/second;1000/hour' (count / [n] unit, separated by ';'), got {text[:80]!r}"
        raise ValueError(msg) from None
    parsed = []
    for item in items:
        if item.amount < 1:
            msg = f"every limit must allow at least 1 request, got {item}"
            raise ValueError(msg)
        parsed.append(Limit(int(item.amount), int(item.get_expiry()), str(item)))
    return tuple(parsed)


def storage_kind(uri: str) -> Literal["memory", "redis", "limits"]:
    """Return which store serves ``uri``: our memory store, our Redis store, or ``limits``.

    Raises:
        ValueError: A sync or unknown scheme; the message names the async scheme to use
            and never contains the URI's credentials.
    """
    scheme = uri.partition("://")[0].lower() if "://" in uri else ""
    if scheme in _ASYNC_SCHEMES:
        msg = (
            "the storage URI uses the synchronous scheme "
            f"'{scheme}://', which would block the event loop. Use '{_ASYNC_SCHEMES[scheme]}://' "
            "instead and keep the rest of the URI as it is"
        )
        raise SafeValueError(msg)
    if scheme == "async+memory":
        return "memory"
    if scheme in _OWN_REDIS:
        return "redis"
    if scheme in _ASYNC_SCHEMES.values():
        return "limits"
    msg = (
        f"the storage URI has an unknown scheme {scheme + '://' if scheme else ''!r}; "
        f"expected one of {sorted(_ASYNC_SCHEMES.values())}, for example 'async+redis://host:6379/0'"
    )
    raise SafeValueError(msg)


class PolicyOptions(BaseModel):
    """The options of one rate-limit policy, written once for every way to declare one.

    :class:`RateLimitRule` adds a route to them; :func:`~hardening.ratelimit.rate_limit`
    and :class:`~hardening.ratelimit.RateLimitDependency` take them as keyword
    arguments. Unset optional fields take the value of the same field of
    :class:`RateLimitConfig`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    limits: str = ""
    """Limits such as ``"5/minute"`` or ``"10/second;1000/hour"``; all of them apply."""
    name: str | None = None
    """The policy name in headers, logs and storage keys; derived from the route (or the
    endpoint) when unset. Renaming a policy starts its counters afresh."""
    cost: int = Field(default=1, ge=1)
    """How many units of quota one request uses."""
    key: KeyKind | None = None
    """Who a bucket belongs to; defaults to ``RateLimitConfig.key``."""
    key_func: Callable[..., Any] | None = Field(default=None, exclude=True)
    """A callable ``(scope) -> str | None`` (sync or async) returning the bucket
    identity; ``None`` falls back to the client address. Exceptions are bugs: they
    propagate and never trip the circuit breaker."""
    strategy: Strategy | None = None
    """Counting strategy; defaults to ``RateLimitConfig.strategy``."""
    failure_mode: FailureMode | None = None
    """Behaviour while the store is down; defaults to ``RateLimitConfig.failure_mode``."""
    fallback_scale: FallbackScale | None = None
    """Fallback quota scaling; defaults to ``RateLimitConfig.fallback_scale``."""
    shadow: bool | None = None
    """Decide and send headers but never reject; defaults to ``RateLimitConfig.shadow``."""

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.match(value):
            msg = f"the name must be 1-64 letters, digits, '_', '.' or '-', got {value[:80]!r}"
            raise ValueError(msg)
        return value

    @field_validator("limits")
    @classmethod
    def _check_limits(cls, value: str) -> str:
        parse_limits(value)
        return value

    def parsed_limits(self) -> tuple[Limit, ...]:
        """Return the parsed :attr:`limits`."""
        return parse_limits(self.limits)

    def resolved(self, config: RateLimitConfig) -> dict[str, Any]:
        """Return the options that default to ``config``'s, with those defaults filled in."""
        return {
            name: value if (value := getattr(self, name)) is not None else getattr(config, name) for name in _INHERITED
        }


class RateLimitRule(PolicyOptions):
    """Limits for the requests matching a route template and methods.

    The first rule that matches a request decides its policy (like Starlette's routing);
    a request that matches no rule gets the default limits. The policy options are
    those of :class:`PolicyOptions`.
    """

    path: str
    """A route template such as ``/items/{id}`` (``{name:path}`` matches several
    segments, a trailing ``*`` matches any rest). Matching ignores case and a trailing
    slash, so ``/items/1``, ``/items/2/`` and ``/ITEMS/3`` share one bucket per client."""
    methods: tuple[str, ...] = ()
    """HTTP methods the rule applies to (upper case); empty means every method."""
    exempt: bool = False
    """Exempt the matching requests from every limit."""

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not value.startswith("/"):
            msg = f"must start with '/', got {value[:80]!r}"
            raise ValueError(msg)
        return value

    @field_validator("methods")
    @classmethod
    def _upper_methods(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(method.strip().upper() for method in value)

    @model_validator(mode="after")
    def _check_rule_limits(self) -> RateLimitRule:
        if not self.limits.strip() and not self.exempt:
            msg = f"the rule for {self.path!r} needs 'limits' such as '5/minute', or 'exempt': true"
            raise ValueError(msg)
        return self


class RateLimitConfig(LayerConfig):
    """Rate limiting that keeps limiting when Redis fails, and recovers by itself.

    Enabled by default with an in-process store and a generous per-client limit; point
    ``storage_uri`` at Redis for limits shared by every worker and replica.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, hide_input_in_errors=True)

    enabled: bool = True
    """Whether rate limiting is part of the stack."""
    storage_uri: SecretStr = SecretStr("async+memory://")
    """Where counters live: ``async+redis://host:6379/0`` (a password goes in the URI; also
    ``async+rediss://``, ``async+redis+unix://``,
    ``async+redis+sentinel://host:26379,host:26380/service_name``,
    ``async+redis+cluster://host:7000,host:7001``: one script call per request),
    ``async+memory://`` (this process only), or another ``limits`` async storage
    (``async+memcached://``, ``async+valkey://``, ...). Sync schemes are refused."""
    default_limits: str = "50/second;1000/minute"
    """Limits for every request no rule matches, per client across the whole app.
    Empty means no limit outside the rules."""
    rules: tuple[RateLimitRule, ...] = ()
    """Per-route rules, first match wins (JSON list in the environment variable)."""
    strategy: Strategy = "sliding-window-counter"
    """``fixed-window`` (cheapest; allows bursts of 2x at window edges),
    ``sliding-window-counter`` (smooth, approximate) or ``moving-window`` (exact,
    memory grows with the limit)."""
    key: KeyKind = "ip"
    """Who a bucket belongs to by default: ``ip`` (client address, behind trusted
    proxies), ``api_key`` (the ``api_key_header``, hashed) or ``user`` (the
    authenticated user in ``scope["user"]``); without one, the client address."""
    key_func: Callable[..., Any] | None = Field(default=None, exclude=True)
    """A default key callable ``(scope) -> str | None`` (sync or async), used instead of
    ``key`` when set."""
    api_key_header: str = Field(default="x-api-key", json_schema_extra={"secret": False})
    """The header carrying the API key for ``key = "api_key"`` (its name: not a secret)."""
    ipv6_prefix: int = Field(default=64, ge=1, le=128)
    """IPv6 clients are grouped by this prefix length: one user owns a whole /64."""
    unknown_client: Literal["shared", "reject"] = "shared"
    """Requests with no client address (a UNIX socket with no trusted proxy): one
    ``unknown-client`` bucket for all of them (logged once as a warning), or a 400."""
    exempt_paths: tuple[str, ...] = DEFAULT_EXEMPT_PATHS
    """Paths never limited, matched as the health layer matches its paths: exactly (a
    trailing ``/`` aside), not their sub-paths; an entry ending in ``/`` covers what is
    below it."""
    shadow: bool = False
    """Shadow mode: decide, count and send headers, but never reject."""
    failure_mode: FailureMode = "fallback"
    """Default behaviour while the store is unavailable (see :data:`FailureMode`)."""
    fallback_scale: FallbackScale = "per_worker"
    """Default fallback quota scaling (see :data:`FallbackScale`)."""
    workers: int | None = Field(default=None, ge=1)
    """Worker processes per replica; unset means ``$WEB_CONCURRENCY`` or 1."""
    replicas: int = Field(default=1, ge=1)
    """Replicas (pods, machines) sharing the store."""
    fallback_max_keys: int = Field(default=100_000, ge=1)
    """The most keys the in-memory store keeps; least recently used ones are evicted."""
    deadline: float = Field(default=0.05, gt=0, le=10)
    """Seconds one store call may take on the request path before it counts as failed."""
    connect_timeout: float = Field(default=0.25, gt=0, le=30)
    """Seconds to open a connection to Redis."""
    failure_threshold: int = Field(default=3, ge=1)
    """Consecutive store failures that open the circuit breaker."""
    recovery_probes: int = Field(default=3, ge=1)
    """Consecutive good background probes that close the breaker again."""
    recovery_time: float = Field(default=3.0, ge=0, le=600)
    """The least seconds the good probes must span before the breaker closes, so a
    flapping store settles in "open" instead of cycling."""
    probe_interval: float = Field(default=1.0, gt=0, le=300)
    """Seconds before the first probe after the breaker opens (with +/-20% jitter); it
    doubles each time the breaker re-opens within ``max_probe_interval`` of closing."""
    max_probe_interval: float = Field(default=30.0, gt=0, le=3600)
    """The longest probe interval the doubling reaches."""
    probe_timeout: float = Field(default=0.5, gt=0, le=30)
    """Seconds the start-up warm-up, and a probe, may spend connecting and loading the
    scripts (the probe's write then has ``deadline``, like a request)."""
    redis_warm_connections: int | None = Field(default=None, ge=0)
    """Redis connections opened at start-up (lifespan), so first requests neither connect
    nor wait for a connection being opened under their deadline; unset means the whole
    pool (``redis_max_connections``; on a Cluster, spread over the primaries)."""
    redis_max_connections: int = Field(default=50, ge=1)
    """The Redis connection pool size per worker."""
    key_prefix: str = "hardening-rl"
    """Prefix of every storage key."""
    headers: bool = True
    """Send the IETF ``RateLimit-Policy`` and ``RateLimit`` headers."""
    legacy_headers: bool = False
    """Also send ``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset`` (seconds until)."""

    @field_validator("storage_uri")
    @classmethod
    def _check_uri(cls, value: SecretStr) -> SecretStr:
        storage_kind(value.get_secret_value())
        return value

    @field_validator("default_limits")
    @classmethod
    def _check_default_limits(cls, value: str) -> str:
        parse_limits(value)
        return value

    @field_validator("exempt_paths")
    @classmethod
    def _check_exempt(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_path_prefixes(value)


_INHERITED: Final = tuple(name for name in PolicyOptions.model_fields if name in RateLimitConfig.model_fields)
"""The policy options whose default is the config's field of the same name."""
