"""What the limiter answers: a :class:`Decision` per request and its :class:`LimiterHealth`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from hardening.ratelimit.policy import Policy
from hardening.ratelimit.windows import Limit, Outcome, slot_setters

__all__ = ("Decision", "LimiterHealth")


@dataclass(frozen=True, slots=True)
class Decision:
    """What the limiter decided for one request.

    Attributes:
        status: ``allowed``, ``limited`` (answer 429) or ``unavailable`` (answer 503).
        policy: The policy that decided.
        outcome: The store's answer, ``None`` when no store decided (``open`` or
            ``closed`` failure mode while the store is down).
        degraded: Whether the fallback (or failure mode) decided instead of the store.
        shadow_limited: The request would have been limited, but shadow mode let it pass.
    """

    status: Literal["allowed", "limited", "unavailable"]
    policy: Policy
    outcome: Outcome | None
    degraded: bool = False
    shadow_limited: bool = False

    def __init__(  # by hand: see windows.slot_setters
        self,
        status: Literal["allowed", "limited", "unavailable"],
        policy: Policy,
        outcome: Outcome | None,
        degraded: bool = False,
        shadow_limited: bool = False,
    ) -> None:
        _set_status(self, status)
        _set_policy(self, policy)
        _set_outcome(self, outcome)
        _set_degraded(self, degraded)
        _set_shadow_limited(self, shadow_limited)

    @property
    def limits(self) -> tuple[Limit, ...]:
        """The limits that were enforced (the fallback's share while degraded)."""
        return self.policy.fallback_limits if self.degraded else self.policy.limits

    def retry_after(self) -> int:
        """Whole seconds until a rejected request may succeed (at least 1)."""
        if self.outcome is None:
            return 1
        waits = [result.reset for result in self.outcome.results if result.remaining < self.policy.cost] or [
            result.reset for result in self.outcome.results
        ]
        return max(1, math.ceil(max(waits, default=1.0)))


_set_status, _set_policy, _set_outcome, _set_degraded, _set_shadow_limited = slot_setters(
    Decision, "status", "policy", "outcome", "degraded", "shadow_limited"
)


@dataclass(frozen=True, slots=True)
class LimiterHealth:
    """The limiter's health, for a readiness check (never for liveness).

    Attributes:
        status: ``pass`` (the store decides), ``warn`` (degraded: the store is
            unavailable and requests are decided by the failure modes) or ``fail``
            (degraded and every policy answers 503).
        state: The breaker state: ``closed``, ``open`` or ``half_open``.
        storage: ``memory``, ``redis`` or ``limits``.
        details: Observed facts: seconds degraded, last error class, consecutive failures.
    """

    status: Literal["pass", "warn", "fail"]
    state: str
    storage: str
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Return the health as plain data."""
        return {"status": self.status, "state": self.state, "storage": self.storage, **self.details}
