"""``RateLimiter``: the engine behind the middleware, the decorator and the dependency.

It owns the compiled policies, the primary store (behind the circuit breaker), the
bounded in-memory fallback, the counters, and the health report.
"""

from __future__ import annotations

import math
import os
import re
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from starlette.types import Scope

from hardening.clientip import ClientResolver, ProxyConfig
from hardening.errors import ConfigurationError
from hardening.ratelimit._admit import admitter
from hardening.ratelimit._slots import slot_setters
from hardening.ratelimit.breaker import CircuitBreaker
from hardening.ratelimit.config import (
    FailureMode,
    FallbackScale,
    KeyKind,
    RateLimitConfig,
    parse_limits,
    storage_kind,
)
from hardening.ratelimit.policy import Policy, PolicyTable, key_functions, template_pattern
from hardening.ratelimit.stores import Limit, LimitsStore, MemoryStore, Outcome, RedisStore, Store, Strategy

__all__ = ("Decision", "LimitSpec", "LimiterHealth", "RateLimiter", "active_limiters")

_SLUG: Final = re.compile(r"[^A-Za-z0-9]+")
_limiters: weakref.WeakSet[RateLimiter] = weakref.WeakSet()


def active_limiters() -> list[RateLimiter]:
    """Return every live :class:`RateLimiter` (for health checks and diagnostics)."""
    return list(_limiters)


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """An endpoint-level policy, parsed when the decorator or dependency is created.

    Attributes:
        limits: The parsed limits.
        name: The policy name.
        cost: Quota units per request.
        key: Key kind, or ``None`` for the limiter's default.
        key_func: A key callable, or ``None``.
        strategy: Strategy, or ``None`` for the limiter's default.
        failure_mode: Failure mode, or ``None`` for the limiter's default.
        fallback_scale: Fallback scaling, or ``None`` for the limiter's default.
        shadow: Shadow mode, or ``None`` for the limiter's default.
    """

    limits: tuple[Limit, ...]
    name: str
    cost: int = 1
    key: KeyKind | None = None
    key_func: Callable[..., Any] | None = None
    strategy: Strategy | None = None
    failure_mode: FailureMode | None = None
    fallback_scale: FallbackScale | None = None
    shadow: bool | None = None

    @classmethod
    def parse(cls, limits: str, *, name: str, **options: Any) -> LimitSpec:
        """Parse ``limits`` now (at import/start-up time), failing loudly when invalid."""
        try:
            parsed = parse_limits(limits, setting=f"rate_limit({name!r})", env_var="code")
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        if not parsed:
            msg = f"rate_limit({name!r}) needs limits such as '5/minute'"
            raise ConfigurationError(msg)
        return cls(parsed, name, **options)


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

    def __init__(  # by hand: see _slots
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


def _slug(path: str) -> str:
    return _SLUG.sub("-", path).strip("-").lower()[:64] or "root"


class RateLimiter:
    """Decide requests against the configured policies, surviving store failures.

    Args:
        config: The rate-limit settings.
        proxy: Trusted proxies, for the client address (``settings.proxy``).
        store: A store to use instead of the one ``config.storage_uri`` names (tests).
        on_state_change: Called with ``(old, new)`` on each breaker transition.
    """

    def __init__(
        self,
        config: RateLimitConfig | None = None,
        *,
        proxy: ProxyConfig | None = None,
        store: Store | None = None,
        on_state_change: Callable[[str, str], None] | None = None,
    ) -> None:
        config = config or RateLimitConfig()
        self.config = config
        self.resolver = ClientResolver(proxy)
        uri = config.storage_uri.get_secret_value()
        try:
            self.storage = storage_kind(uri)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        self.workers = config.workers or _env_workers()
        self.share = self.workers * config.replicas
        self.fallback = MemoryStore(config.fallback_max_keys)
        self._counters: Counter[str] = Counter()
        self._admitted = [0]  # requests the policies' fast paths admitted, not yet in _counters
        if store is None:
            store = self._build_store(uri)
        self.primary_is_memory = isinstance(store, MemoryStore)
        self.breaker: CircuitBreaker | None = None
        if not self.primary_is_memory:
            self.breaker = CircuitBreaker(
                store,
                deadline=config.deadline,
                failure_threshold=config.failure_threshold,
                recovery_probes=config.recovery_probes,
                probe_interval=config.probe_interval,
                probe_timeout=config.probe_timeout,
                on_state_change=on_state_change,
                on_close=self.fallback.clear,
            )
        self.store = store
        self._memory = store if type(store) is MemoryStore else None  # decided without awaiting
        self.table = self._build_table()
        self._specs: dict[LimitSpec, Policy] = {}
        _limiters.add(self)

    def _build_store(self, uri: str) -> Store:
        config = self.config
        if self.storage == "memory":
            return MemoryStore(config.fallback_max_keys)
        if self.storage == "redis":
            return RedisStore(
                uri,
                connect_timeout=config.connect_timeout,
                socket_timeout=max(config.probe_timeout, config.deadline),
                max_connections=config.redis_max_connections,
                key_prefix=config.key_prefix,
            )
        return LimitsStore(uri, key_prefix=config.key_prefix)

    def _policy(
        self,
        name: str,
        limits: tuple[Limit, ...],
        *,
        cost: int = 1,
        key: KeyKind | None = None,
        key_func: Callable[..., Any] | None = None,
        strategy: Strategy | None = None,
        failure_mode: FailureMode | None = None,
        fallback_scale: FallbackScale | None = None,
        shadow: bool | None = None,
    ) -> Policy:
        config = self.config
        scale = fallback_scale or config.fallback_scale
        divisor = self.share if scale == "per_worker" else 1
        key_func_async, key_func_sync = key_functions(
            key or config.key,
            key_func if key_func is not None else config.key_func,
            resolver=self.resolver,
            ipv6_prefix=config.ipv6_prefix,
            api_key_header=config.api_key_header,
            unknown_client=config.unknown_client,
        )
        policy = Policy(
            name=name,
            limits=limits,
            fallback_limits=tuple(limit.scaled(divisor) for limit in limits),
            strategy=strategy or config.strategy,
            cost=cost,
            key=key_func_async,
            failure_mode=failure_mode or config.failure_mode,
            shadow=config.shadow if shadow is None else shadow,
            key_prefix=config.key_prefix,
            sync_key=key_func_sync,
        )
        admit = admitter(policy, self._memory, self._admitted, ietf=config.headers, legacy=config.legacy_headers)
        object.__setattr__(policy, "admit_now", admit)
        return policy

    def _build_table(self) -> PolicyTable:
        config = self.config
        rules = []
        for rule in config.rules:
            policy: Policy | None = None
            if not rule.exempt:
                limits = parse_limits(rule.limits, setting="rate_limit.rules[].limits", env_var="")
                policy = self._policy(
                    rule.name or _slug(rule.path),
                    limits,
                    cost=rule.cost,
                    key=rule.key,
                    key_func=rule.key_func,
                    strategy=rule.strategy,
                    failure_mode=rule.failure_mode,
                    fallback_scale=rule.fallback_scale,
                    shadow=rule.shadow,
                )
            rules.append((template_pattern(rule.path), frozenset(rule.methods), policy))
        default_limits = parse_limits(config.default_limits, setting="", env_var="")
        default = self._policy("default", default_limits) if default_limits else None
        return PolicyTable(rules, default, config.exempt_paths)

    def policy_for(self, spec: LimitSpec) -> Policy:
        """Return (and cache) the compiled policy of an endpoint-level spec."""
        policy = self._specs.get(spec)
        if policy is None:
            policy = self._policy(
                spec.name,
                spec.limits,
                cost=spec.cost,
                key=spec.key,
                key_func=spec.key_func,
                strategy=spec.strategy,
                failure_mode=spec.failure_mode,
                fallback_scale=spec.fallback_scale,
                shadow=spec.shadow,
            )
            self._specs[spec] = policy
        return policy

    async def decide(self, policy: Policy, scope: Scope) -> Decision:
        """Decide one request under ``policy``.

        Raises:
            Exception: Whatever the policy's key function raises (a bug, not a storage
                failure: it never trips the breaker).
        """
        decision = self.decide_now(policy, scope)
        if decision is not None:
            return decision
        sync_key = policy.sync_key
        identity = sync_key(scope) if sync_key is not None else await policy.key(scope)
        keys = policy.storage_keys(identity)
        if self.breaker is None:
            outcome = await self.store.acquire(keys, policy.limits, policy.strategy, policy.cost)
            return self._conclude(policy, outcome)
        answer = await self.breaker.acquire(keys, policy.limits, policy.strategy, policy.cost)
        if answer is not None:
            return self._conclude(policy, answer)
        mode = policy.failure_mode
        if mode == "open":
            self._counters["allowed_on_error"] += 1
            return Decision("allowed", policy, None, degraded=True)
        if mode == "closed":
            self._counters["rejected_on_error"] += 1
            return Decision("unavailable", policy, None, degraded=True)
        outcome = self.fallback.acquire_now(
            keys, policy.fallback_limits, policy.strategy, policy.cost, self.fallback_clock()
        )
        return self._conclude(policy, outcome, degraded=True)

    def decide_now(self, policy: Policy, scope: Scope) -> Decision | None:
        """Decide one request without awaiting, or return ``None`` when that needs an ``await``.

        It can when the counters are in this process's memory and the policy's key
        function is not a coroutine: then :meth:`decide` would never suspend either, and
        the middleware spares itself two coroutines per request.
        """
        memory = self._memory
        sync_key = policy.sync_key
        if memory is None or sync_key is None:
            return None
        keys = policy.keys_for(sync_key(scope))
        outcome = memory.acquire_now(keys, policy.limits, policy.strategy, policy.cost, memory._clock())
        return self._conclude(policy, outcome)

    def _conclude(self, policy: Policy, outcome: Outcome, *, degraded: bool = False) -> Decision:
        counters = self._counters
        if outcome.allowed:
            counters["fallback_allowed" if degraded else "allowed"] += 1
            return Decision("allowed", policy, outcome, degraded)
        if policy.shadow:
            counters["shadow_limited"] += 1
            return Decision("allowed", policy, outcome, degraded=degraded, shadow_limited=True)
        counters["fallback_limited" if degraded else "limited"] += 1
        return Decision("limited", policy, outcome, degraded=degraded)

    @property
    def counters(self) -> Counter[str]:
        """Decisions so far by outcome (the ``decisions`` of :meth:`stats`)."""
        admitted = self._admitted
        if admitted[0]:
            self._counters["allowed"] += admitted[0]
            admitted[0] = 0
        return self._counters

    def fallback_clock(self) -> float:
        """The fallback store's clock (monotonic seconds)."""
        return self.fallback._clock()

    @property
    def state(self) -> str:
        """The breaker state (``closed`` when the store is in memory)."""
        return "closed" if self.breaker is None else self.breaker.state

    def stats(self) -> dict[str, Any]:
        """Return counters and the current state as plain data.

        Keys: ``state``, ``storage``, ``decisions`` (``allowed``, ``limited``,
        ``shadow_limited``, ``fallback_allowed``, ``fallback_limited``,
        ``allowed_on_error``, ``rejected_on_error``), ``fallback_keys``,
        ``fallback_evictions``, ``workers``, and the breaker's counters under ``breaker``.
        """
        data: dict[str, Any] = {
            "state": self.state,
            "storage": self.storage,
            "decisions": dict(self.counters),
            "fallback_keys": len(self.fallback),
            "fallback_evictions": self.fallback.evictions,
            "workers": self.workers,
            "replicas": self.config.replicas,
        }
        if self.breaker is not None:
            data["breaker"] = self.breaker.snapshot()
        return data

    def health(self) -> LimiterHealth:
        """Return the limiter's health for a readiness check; see :class:`LimiterHealth`."""
        if self.breaker is None or self.breaker.state == "closed":
            details: dict[str, Any] = {}
            if self.breaker is not None:
                details["latency_mean_ms"] = round(self.breaker.mean_latency() * 1000, 3)
            return LimiterHealth("pass", self.state, self.storage, details)
        modes = {policy.failure_mode for policy in self._all_policies()}
        status: Literal["warn", "fail"] = "fail" if modes == {"closed"} else "warn"
        return LimiterHealth(
            status,
            self.breaker.state,
            self.storage,
            {
                "degraded_for_s": round(self.breaker.degraded_for(), 3),
                "last_error": self.breaker.last_error,
                "failure_modes": sorted(modes),
                "fallback_keys": len(self.fallback),
            },
        )

    def _all_policies(self) -> list[Policy]:
        policies = self.table.policies()
        policies.extend(self._specs.values())
        return policies or [self._policy("default", (Limit(1, 1, "1 per 1 second"),))]

    async def aclose(self) -> None:
        """Stop the recovery probe and close the store's connections."""
        if self.breaker is not None:
            await self.breaker.aclose()
        else:
            await self.store.aclose()


def _env_workers() -> int:
    raw = os.environ.get("WEB_CONCURRENCY", "").strip()
    try:
        return max(1, int(raw)) if raw else 1
    except ValueError:
        return 1
