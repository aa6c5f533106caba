"""``HealthConfig``: the environment-settable part of the health endpoints.

Checks are runtime objects and live in a :class:`~hardening.health.HealthRegistry`;
this config holds the paths, the deadline, the cache times and the details policy.
"""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr, field_validator, model_validator

from hardening._config import LayerConfig
from hardening._paths import is_plain_path

__all__ = ("DetailsPolicy", "HealthConfig")

DetailsPolicy = Literal["never", "always", "token"]
"""Who sees per-check details: nobody, everybody, or callers presenting the token."""

_MAX_DEADLINE = 60.0
_MAX_TTL = 3600.0
_PATHS = ("liveness_path", "readiness_path", "startup_path", "health_path", "metrics_path")


class HealthConfig(LayerConfig):
    """Health endpoints for Kubernetes probes and monitoring (``application/health+json``).

    Liveness (``/livez``) checks the process only; readiness (``/readyz``) runs the
    critical checks; ``/startupz`` answers 200 once start-up is done; ``/health`` is the
    detailed view. Every endpoint answers within ``deadline`` whatever the checks do.
    """

    enabled: bool = True
    """Whether the health endpoints are part of the stack."""

    liveness_path: str | None = "/livez"
    """Path of the liveness endpoint (the process only); empty to disable."""
    readiness_path: str | None = "/readyz"
    """Path of the readiness endpoint (critical checks, lifecycle); empty to disable."""
    startup_path: str | None = "/startupz"
    """Path of the start-up endpoint (200 once started and warmed up); empty to disable."""
    health_path: str | None = "/health"
    """Path of the detailed view (every check); empty to disable."""
    metrics_path: str | None = None
    """Path of the OpenMetrics view of cached results (no check is re-run); off when empty."""

    deadline: float = 0.8
    """Seconds an endpoint may take at most; keep it under the probe's ``timeoutSeconds``."""
    check_timeout: float = 0.5
    """Timeout of each check registered without its own, in seconds."""
    pass_ttl: float = 5.0
    """Seconds a pass or warn result is reused, for checks registered without their own."""
    fail_ttl: float = 1.0
    """Seconds a fail result is reused (shorter, so recovery is seen quickly)."""
    sync_workers: int = 16
    """The most synchronous checks health runs, each on a thread of its own (1 to 64).

    A sync check gets one dedicated thread, never shared, so a hung one (``statvfs`` on
    a dead NFS mount) holds only its own and cannot starve the others; it is not started
    again while stuck. Health thus uses one thread per sync check and no more; async
    checks use none. More sync checks than this is a start-up error."""

    details: DetailsPolicy = "never"
    """Who sees per-check details: ``never``, ``always`` or ``token`` (callers sending the token)."""
    token: SecretStr | None = None
    """Token for ``details="token"`` (``Authorization: Bearer <token>`` or ``X-Health-Token``)."""
    retry_after: int = 5
    """``Retry-After`` seconds sent with 503 responses."""

    service_id: str = ""
    """``serviceId`` of the detailed view (empty: left out)."""
    version: str = ""
    """``version`` of the detailed view (empty: left out)."""
    release_id: str = ""
    """``releaseId`` of the detailed view (empty: left out)."""
    description: str = ""
    """``description`` of the detailed view (empty: left out)."""

    @field_validator(*_PATHS)
    @classmethod
    def _check_path(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not is_plain_path(value):
            msg = (
                "must be an absolute path such as '/readyz' without query, fragment or whitespace, "
                f"got {value!r}; set a path, or an empty value to disable the endpoint"
            )
            raise ValueError(msg)
        return value

    @field_validator("deadline", "check_timeout", "pass_ttl", "fail_ttl")
    @classmethod
    def _check_seconds(cls, value: float, info: object) -> float:
        name = getattr(info, "field_name", "deadline")
        is_ttl = name.endswith("_ttl")
        low_ok = value >= 0 if is_ttl else value > 0
        if not (low_ok and value <= (_MAX_TTL if is_ttl else _MAX_DEADLINE)):
            expected = f"0 to {_MAX_TTL:g}" if is_ttl else f"more than 0 and at most {_MAX_DEADLINE:g}"
            msg = (
                f"must be {expected} seconds, got {value!r} "
                "(keep the deadline under the probe's timeoutSeconds, for example 0.8)"
            )
            raise ValueError(msg)
        return value

    @field_validator("sync_workers")
    @classmethod
    def _check_workers(cls, value: int) -> int:
        if not 1 <= value <= 64:
            msg = f"must be between 1 and 64, got {value!r}"
            raise ValueError(msg)
        return value

    @field_validator("retry_after")
    @classmethod
    def _check_retry_after(cls, value: int) -> int:
        if value < 0:
            msg = f"must be zero or more seconds, got {value!r}"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> HealthConfig:
        paths = [path for name in _PATHS if (path := getattr(self, name))]
        if len(paths) != len(set(paths)):
            msg = f"the endpoint paths ({', '.join(_PATHS)}) must be distinct, got {paths}"
            raise ValueError(msg)
        if self.details == "token" and (self.token is None or not self.token.get_secret_value()):
            msg = "details is 'token' but token is empty; set token to a long random value, or details to 'never'"
            raise ValueError(msg)
        return self
