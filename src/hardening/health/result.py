"""What a health check returns: a status, an observed value and a safe output text.

A check is any callable, sync or async, that returns one of:

* ``None`` or ``True``: pass;
* ``False``: fail;
* a status string (``"pass"``, ``"warn"``, ``"fail"`` or an alias such as ``"ok"``,
  ``"up"``, ``"degraded"``, ``"down"``);
* a :class:`CheckResult`;
* any object with a ``status`` attribute or a mapping with a ``"status"`` key (for
  example what a rate limiter's ``health()`` returns).

Raising an exception means fail; the exception's type and (redacted) message become
the ``output``. Statuses follow draft-inadarei-api-health-check: ``pass``, ``warn``
(healthy with concerns) and ``fail``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from time import monotonic as _monotonic
from typing import Any, Final, Literal

from hardening.redaction import redact, redact_text

__all__ = (
    "STATUS_RANK",
    "CheckFunction",
    "CheckResult",
    "Status",
    "coerce_result",
    "normalize_status",
    "safe_output",
    "worst",
)

Status = Literal["pass", "warn", "fail"]
"""A health status as defined by the IETF health+json draft."""

STATUS_RANK: Final[dict[str, int]] = {"pass": 0, "warn": 1, "fail": 2}
"""Statuses ranked from best to worst, for aggregation."""

_ALIASES: Final[dict[str, Status]] = {
    "pass": "pass",
    "ok": "pass",
    "up": "pass",
    "healthy": "pass",
    "closed": "pass",
    "warn": "warn",
    "warning": "warn",
    "degraded": "warn",
    "half_open": "warn",
    "half-open": "warn",
    "fallback": "warn",
    "fail": "fail",
    "error": "fail",
    "down": "fail",
    "unhealthy": "fail",
    "open": "fail",
}

_MAX_OUTPUT: Final = 300

CheckFunction = Callable[[], Awaitable[Any] | Any]
"""A health check: a sync or async callable taking no argument."""


def normalize_status(value: object) -> Status:
    """Map a status word (any case, with the common aliases) to pass/warn/fail.

    Enum members are read through their ``value`` (or ``name``). Unknown words are
    ``fail``: a check that cannot say it is healthy is not healthy.
    """
    raw = getattr(value, "value", value)
    if not isinstance(raw, str):
        raw = getattr(value, "name", "")
    if isinstance(raw, str):
        return _ALIASES.get(raw.strip().lower(), "fail")
    return "fail"


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def safe_output(text: str) -> str:
    """Return ``text`` redacted and cut to a small size, fit for a response body."""
    text = redact_text(text)
    if len(text) > _MAX_OUTPUT:
        text = text[: _MAX_OUTPUT - 3] + "..."
    return text


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check run.

    Attributes:
        status: ``pass``, ``warn`` or ``fail``.
        output: Why it warns or fails; left out of the body when the status is pass.
        observed_value: Any JSON value measured by the check (a latency, pool counts).
        observed_unit: The unit of ``observed_value`` (``ms``, ``percent``, ...).
        component_type: ``datastore``, ``component``, ``system`` or a URI.
        component_id: Which instance of the component (``primary``, ``cache-0``).
        time: ISO 8601 time the value was observed; filled in when left empty.
        duration: How long the check ran, in seconds (``None`` when it did not run).
        monotonic: ``time.monotonic()`` at which the result was recorded.
    """

    status: Status
    output: str | None = None
    observed_value: Any = None
    observed_unit: str | None = None
    component_type: str | None = None
    component_id: str | None = None
    time: str = field(default_factory=_now_iso)
    duration: float | None = None
    monotonic: float = field(default_factory=_monotonic)

    @classmethod
    def passed(cls, observed_value: Any = None, observed_unit: str | None = None, **kwargs: Any) -> CheckResult:
        """Return a ``pass`` result."""
        return cls("pass", observed_value=observed_value, observed_unit=observed_unit, **kwargs)

    @classmethod
    def warned(
        cls, output: str, observed_value: Any = None, observed_unit: str | None = None, **kwargs: Any
    ) -> CheckResult:
        """Return a ``warn`` result (healthy, with concerns)."""
        return cls("warn", output=output, observed_value=observed_value, observed_unit=observed_unit, **kwargs)

    @classmethod
    def failed(
        cls, output: str, observed_value: Any = None, observed_unit: str | None = None, **kwargs: Any
    ) -> CheckResult:
        """Return a ``fail`` result."""
        return cls("fail", output=output, observed_value=observed_value, observed_unit=observed_unit, **kwargs)

    def sanitized(self) -> CheckResult:
        """Return a copy whose output and observed value are redacted."""
        output = safe_output(self.output) if self.output else self.output
        observed = redact(self.observed_value)
        if output is self.output and observed is self.observed_value:
            return self
        return replace(self, output=output, observed_value=observed)


def worst(statuses: list[Status]) -> Status:
    """Return the worst of ``statuses`` (``pass`` for an empty list)."""
    return max(statuses, key=STATUS_RANK.__getitem__, default="pass")


def coerce_result(value: object) -> CheckResult:
    """Turn whatever a check returned into a :class:`CheckResult` (see module docs)."""
    if isinstance(value, CheckResult):
        return value
    if value is None or value is True:
        return CheckResult("pass")
    if value is False:
        return CheckResult("fail", output="check returned False")
    if isinstance(value, str):
        return _with_output(normalize_status(value), None)
    if isinstance(value, Mapping):
        if "status" not in value:
            return CheckResult("fail", output="check returned a mapping without 'status'")
        detail = value.get("output") or value.get("detail") or value.get("reason")
        return _with_output(normalize_status(value["status"]), detail)
    status = getattr(value, "status", None)
    if status is None:
        return CheckResult("fail", output=f"check returned an unsupported {type(value).__name__}")
    detail = getattr(value, "output", None) or getattr(value, "detail", None) or getattr(value, "reason", None)
    return _with_output(normalize_status(status), detail)


def _with_output(status: Status, detail: object) -> CheckResult:
    if status == "pass":
        return CheckResult("pass")
    text = str(detail) if detail is not None else f"status is {status}"
    return CheckResult(status, output=text)
