"""The body-limit settings (size and time, per path) and their production rules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Final, NamedTuple

from pydantic import AfterValidator, BaseModel, ByteSize, ConfigDict, field_validator

from hardening._config import LayerConfig
from hardening._environments import is_deployed
from hardening.bodylimit._paths import check_path_key
from hardening.findings import Finding, finding

if TYPE_CHECKING:
    from hardening.findings import Rule, RuleInput

__all__ = (
    "CHECKS",
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MIN_RATE",
    "DEFAULT_MIN_RATE_GRACE",
    "BodyLimitConfig",
    "BodyTimeLimit",
)

DEFAULT_MAX_BYTES: Final = 1024 * 1024
"""The default size limit: 1 MiB."""
DEFAULT_BODY_TIMEOUT: Final = 30.0
"""The default whole-body timeout: 30 seconds spent waiting for the client."""
DEFAULT_MIN_RATE: Final = 1024
"""The default minimum transfer rate: 1 KiB per second, once the grace period is over."""
DEFAULT_MIN_RATE_GRACE: Final = 5.0
"""The default grace period before the minimum rate applies: 5 seconds."""

_PRODUCTION_CEILING: Final = 100 * 1024 * 1024
_MAX_SECONDS: Final = 24 * 3600.0


class Times(NamedTuple):
    """The time limits of one path, resolved (``None``: that limit is off)."""

    timeout: float | None
    min_rate: int | None
    grace: float

    @property
    def off(self) -> bool:
        """Whether no time limit applies."""
        return self.timeout is None and self.min_rate is None


def _check_seconds(value: float | None, *, zero_ok: bool = False) -> float | None:
    if value is not None and not ((value >= 0 if zero_ok else value > 0) and value <= _MAX_SECONDS):
        low = "0 or more" if zero_ok else "more than 0"
        msg = f"must be {low} and at most {_MAX_SECONDS:g} seconds, or null to turn it off"
        raise ValueError(msg)
    return value


def _check_grace(value: float) -> float:
    _check_seconds(value, zero_ok=True)
    return value


def _check_rate(value: ByteSize | None) -> ByteSize | None:
    if value is not None and value < 1:
        msg = "must be a positive rate in bytes per second such as '1KiB', or null"
        raise ValueError(msg)
    return value


# The time fields of the layer and of each time_paths entry, checked alike.
_Seconds = Annotated[float | None, AfterValidator(_check_seconds)]
_Grace = Annotated[float, AfterValidator(_check_grace)]
_Rate = Annotated[ByteSize | None, AfterValidator(_check_rate)]


class BodyTimeLimit(BaseModel):
    """The time limits of one path (an entry of ``BodyLimitConfig.time_paths``).

    A field left out takes the layer's own value (``timeout``, ``min_rate``,
    ``min_rate_grace``); ``null`` turns that limit off on the path.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    timeout: _Seconds = DEFAULT_BODY_TIMEOUT
    """Seconds the whole body may take; ``null``: no whole-body timeout here."""
    min_rate: _Rate = ByteSize(DEFAULT_MIN_RATE)
    """Bytes per second the body must average after the grace period; ``null``: none."""
    min_rate_grace: _Grace = DEFAULT_MIN_RATE_GRACE
    """Seconds before the minimum rate applies."""

    def resolve(self, layer: Times) -> Times:
        """Return this path's limits, taking the fields left out from ``layer``."""
        given = self.model_fields_set
        return Times(
            self.timeout if "timeout" in given else layer.timeout,
            (None if self.min_rate is None else int(self.min_rate)) if "min_rate" in given else layer.min_rate,
            self.min_rate_grace if "min_rate_grace" in given else layer.grace,
        )


class BodyLimitConfig(LayerConfig):
    """Limit the size of request bodies and the time they take, per path if needed."""

    enabled: bool = True
    """Whether this layer is part of the stack (``HARDENING_BODY_LIMIT__ENABLED``)."""

    max_bytes: ByteSize = ByteSize(DEFAULT_MAX_BYTES)
    """The largest request body accepted, in bytes or with a unit (``"10MiB"``, ``"500KB"``)."""

    paths: dict[str, ByteSize | None] = {}
    """Per-path limits that replace ``max_bytes``, as a JSON object in the environment.

    Keys are exact paths (``/login``), route patterns where ``{name}`` matches one path
    segment and ``{name:path}`` the rest (``/items/{id}/photo``), or prefixes ending in
    ``/*`` (``/uploads/*`` matches ``/uploads`` and everything below it). Exact paths and
    patterns win over prefixes; the longest prefix wins. A ``null`` value removes the
    limit on that path."""

    timeout: _Seconds = DEFAULT_BODY_TIMEOUT
    """Seconds the whole request body may take to arrive (``HARDENING_BODY_LIMIT__TIMEOUT``).

    Only the time the app spends waiting for the client counts, not the time it spends
    between two reads. A body still incomplete then is answered ``408`` and the
    connection is closed. ``null`` turns the whole-body timeout off."""

    min_rate: _Rate = ByteSize(DEFAULT_MIN_RATE)
    """The slowest average transfer rate accepted, in bytes per second (``"1KiB"``).

    Applies once ``min_rate_grace`` seconds of waiting have passed: a body that has
    averaged less by then (a trickle, one byte a second) is answered ``408`` and the
    connection is closed, long before the whole-body timeout. ``null`` turns it off."""

    min_rate_grace: _Grace = DEFAULT_MIN_RATE_GRACE
    """Seconds of waiting before ``min_rate`` applies (slow starts, TLS, mobile networks)."""

    time_paths: dict[str, BodyTimeLimit | None] = {}
    """Per-path time limits, keyed like ``paths``; a ``null`` value removes every time
    limit on that path, e.g. ``{"/uploads/*": {"timeout": 600, "min_rate": "8KiB"}}``."""

    @field_validator("max_bytes")
    @classmethod
    def _check_max_bytes(cls, value: ByteSize) -> ByteSize:
        if value < 1:
            msg = "must be a positive size such as '1MiB'; to remove the limit, disable the layer (enabled=false)"
            raise ValueError(msg)
        return value

    @field_validator("paths")
    @classmethod
    def _check_paths(cls, value: dict[str, ByteSize | None]) -> dict[str, ByteSize | None]:
        for key, limit in value.items():
            check_path_key("paths", key)
            if limit is not None and limit < 1:
                msg = f"the limit for {key!r} must be a positive size or null"
                raise ValueError(msg)
        return value

    @field_validator("time_paths")
    @classmethod
    def _check_time_paths(cls, value: dict[str, BodyTimeLimit | None]) -> dict[str, BodyTimeLimit | None]:
        for key in value:
            check_path_key("time_paths", key)
        return value

    def times(self) -> Times:
        """The layer's own time limits (those of every path without a ``time_paths`` entry)."""
        return Times(self.timeout, None if self.min_rate is None else int(self.min_rate), self.min_rate_grace)


def _limit_findings(settings: RuleInput) -> Iterable[Finding]:
    if not is_deployed(settings.environment):
        return
    config = settings.body_limit
    if not config.enabled:
        yield finding(
            "HARDENING-BODY-001",
            "warning",
            "body_limit.enabled",
            "The request body limit is disabled: any client can send bodies of any size.",
            "Enable it (the default is 1 MiB) and raise the limit only on the paths that need it.",
        )
        return
    if config.max_bytes > _PRODUCTION_CEILING:
        yield finding(
            "HARDENING-BODY-002",
            "warning",
            "body_limit.max_bytes",
            f"The default request body limit is {config.max_bytes.human_readable()}, over 100 MiB.",
            "Keep the default small and raise it per path with body_limit.paths.",
        )
    for key, limit in config.paths.items():
        if limit is None or limit > _PRODUCTION_CEILING:
            size = "no limit" if limit is None else limit.human_readable()
            yield finding(
                "HARDENING-BODY-003",
                "info",
                "body_limit.paths",
                f"Request bodies on {key!r} are limited to: {size}.",
                "Make sure that endpoint streams the body instead of loading it into memory.",
            )
    if config.timeout is None and config.min_rate is None:
        yield finding(
            "HARDENING-BODY-004",
            "warning",
            "body_limit.timeout",
            "Request bodies have no time limit: a client sending a byte a second holds a connection for free.",
            "Keep body_limit.timeout (30 s) or body_limit.min_rate (1 KiB/s after 5 s) on.",
        )


CHECKS: tuple[Rule, ...] = (_limit_findings,)
"""Production rules: HARDENING-BODY-001 (limit disabled), -002 (default over 100 MiB),
-003 (a path with no limit or one over 100 MiB), -004 (no body time limit)."""
