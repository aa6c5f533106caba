"""Rate-limit response headers.

IETF draft-10 ``RateLimit-Policy`` / ``RateLimit``, optional legacy ``X-RateLimit-*``,
and ``Retry-After`` on 429 and 503 only.

While the store is unavailable and the fallback decides, ``RateLimit-Policy`` advertises
the local (scaled) quota actually in force, as the draft allows for "temporary reduced
capacity".
"""

from __future__ import annotations

import math
from typing import Final

from hardening._asgi import RawHeaders
from hardening.ratelimit.limiter import Decision

__all__ = ("HEADER_NAMES", "decision_headers")

HEADER_NAMES: Final = frozenset(
    {b"ratelimit-policy", b"ratelimit", b"x-ratelimit-limit", b"x-ratelimit-remaining", b"x-ratelimit-reset"}
)
"""Every header :func:`decision_headers` can return."""


def decision_headers(decision: Decision, *, ietf: bool = True, legacy: bool = False) -> RawHeaders:
    """Return the headers describing ``decision`` (empty when no store decided)."""
    outcome = decision.outcome
    if outcome is None:
        return []
    policy = decision.policy
    headers: RawHeaders
    if ietf:
        prefixes, results = policy.item_prefixes, outcome.results  # prefix: '"name";r='
        if len(results) == 1 == len(prefixes):
            result = results[0]
            items = f"{prefixes[0]}{result.remaining};t={math.ceil(result.reset)}"
        else:
            items = ", ".join(
                f"{prefix}{result.remaining};t={math.ceil(result.reset)}"
                for prefix, result in zip(prefixes, results, strict=True)
            )
        headers = [
            (b"ratelimit-policy", policy.fallback_policy_header if decision.degraded else policy.policy_header),
            (b"ratelimit", items.encode("latin-1")),
        ]
    else:
        headers = []
    if legacy and outcome.results:
        limits = decision.limits
        index = min(range(len(outcome.results)), key=lambda i: outcome.results[i].remaining)
        result = outcome.results[index]
        headers.append((b"x-ratelimit-limit", str(limits[index].amount).encode()))
        headers.append((b"x-ratelimit-remaining", str(result.remaining).encode()))
        headers.append((b"x-ratelimit-reset", str(math.ceil(result.reset)).encode()))
    return headers
