"""``RateLimiter``: the engine behind the middleware, the decorator and the dependency.

It owns the compiled policies, the primary store (behind the circuit breaker), the
bounded in-memory fallback, the counters, and the health report.
"""

from __future__ import annotations

import os
import re
import weakref
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any, Final, Literal

import anyio
from starlette.types import Scope

from hardening.clientip import ClientResolver, ProxyConfig
from hardening.errors import ConfigurationError
from hardening.ratelimit._limits_store import LimitsStore
from hardening.ratelimit.breaker import CircuitBreaker, is_storage_error
from hardening.ratelimit.config import PolicyOptions, RateLimitConfig, storage_kind
from hardening.ratelimit.decision import Decision, LimiterHealth
from hardening.ratelimit.policy import Policy, PolicyTable, key_functions, template_pattern
from hardening.ratelimit.stores import Charge, MemoryStore, RedisStore, Store
from hardening.ratelimit.windows import Outcome

__all__ = ("Decision", "LimiterHealth", "RateLimiter", "active_limiters")

_SLUG: Final = re.compile(r"[^A-Za-z0-9]+")
_limiters: weakref.WeakSet[RateLimiter] = weakref.WeakSet()


def active_limiters() -> list[RateLimiter]:
    """Return every live :class:`RateLimiter` (for health checks and diagnostics)."""
    return list(_limiters)


def _slug(path: str) -> str:
    return _SLUG.sub("-", path).strip("-").lower()[:64] or "root"


class RateLimiter:
    """Decide requests against the configured policies, surviving store failures.

    Args:
        config: The rate-limit settings.
        proxy: Trusted proxies, for the client address (``settings.proxy``).
        resolver: The client resolver to share (a stack's); by default one from ``proxy``.
        store: A store to use instead of the one ``config.storage_uri`` names (tests).
        on_state_change: Called with ``(old, new)`` on each breaker transition.
    """

    def __init__(
        self,
        config: RateLimitConfig | None = None,
        *,
        proxy: ProxyConfig | None = None,
        resolver: ClientResolver | None = None,
        store: Store | None = None,
        on_state_change: Callable[[str, str], None] | None = None,
    ) -> None:
        config = config or RateLimitConfig()
        self.config = config
        self.resolver = resolver if resolver is not None else ClientResolver(proxy)
        uri = config.storage_uri.get_secret_value()
        try:
            self.storage = storage_kind(uri)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        self.workers = config.workers or _env_workers()
        self.share = self.workers * config.replicas
        self.fallback = MemoryStore(config.fallback_max_keys)
        self._counters: Counter[str] = Counter()
        if store is None:
            store = self._build_store(uri)
        self.breaker: CircuitBreaker | None = None
        if not isinstance(store, MemoryStore):
            self.breaker = CircuitBreaker(
                store,
                deadline=config.deadline,
                failure_threshold=config.failure_threshold,
                recovery_probes=config.recovery_probes,
                recovery_time=config.recovery_time,
                probe_interval=config.probe_interval,
                max_probe_interval=config.max_probe_interval,
                probe_timeout=config.probe_timeout,
                on_state_change=on_state_change,
                on_close=self._hand_over,
            )
        # What the fallback admitted while the breaker was open, per key: handed to the
        # store when it closes, so recovering never gives a client a fresh window.
        self._owed: OrderedDict[str, list[Any]] = OrderedDict()
        self._consult_until = -float("inf")  # fallback clock: until then the fallback is asked too
        self.store = store
        self._memory = store if isinstance(store, MemoryStore) else None  # decided without awaiting
        self.table = self._build_table()
        self._endpoint_policies: dict[PolicyOptions, Policy] = {}
        _limiters.add(self)

    @property
    def _longest_window(self) -> float:
        """The longest window of any policy: how long the fallback is consulted after a recovery."""
        return max((limit.window for policy in self._all_policies() for limit in policy.limits), default=0)

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

    def _policy(self, options: PolicyOptions, name: str) -> Policy:
        config = self.config
        resolved = options.resolved(config)
        divisor = self.share if resolved["fallback_scale"] == "per_worker" else 1
        limits = options.parsed_limits()
        return Policy.compile(
            name,
            limits,
            tuple(limit.scaled(divisor) for limit in limits),
            strategy=resolved["strategy"],
            cost=options.cost,
            keys=key_functions(
                resolved["key"],
                resolved["key_func"],
                resolver=self.resolver,
                ipv6_prefix=config.ipv6_prefix,
                api_key_header=config.api_key_header,
                unknown_client=config.unknown_client,
            ),
            failure_mode=resolved["failure_mode"],
            shadow=resolved["shadow"],
            key_prefix=config.key_prefix,
        )

    def _build_table(self) -> PolicyTable:
        config = self.config
        rules = []
        for rule in config.rules:
            policy = None if rule.exempt else self._policy(rule, rule.name or _slug(rule.path))
            rules.append((template_pattern(rule.path), frozenset(rule.methods), policy))
        default = None
        if config.default_limits.strip():
            default = self._policy(PolicyOptions(limits=config.default_limits), "default")
        return PolicyTable(rules, default, config.exempt_paths)

    def policy_for(self, options: PolicyOptions) -> Policy:
        """Return (and remember) the compiled policy of endpoint-level options (named)."""
        policy = self._endpoint_policies.get(options)
        if policy is None:
            policy = self._endpoint_policies[options] = self._policy(options, options.name or "endpoint")
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
        fallback = self.fallback
        if self.breaker.available and fallback.clock() < self._consult_until:
            # Just after recovering: the fallback's windows of the outage still count (Redis
            # may have lost its counts in a restart); asked first, so a request it rejects
            # costs Redis nothing.
            local = fallback.acquire_now(keys, policy.fallback_limits, policy.strategy, policy.cost, fallback.clock())
            if not local.allowed:
                return self._conclude(policy, local, degraded=True)
            answer = await self.breaker.acquire(keys, policy.limits, policy.strategy, policy.cost)
            if answer is not None:
                return self._conclude(policy, answer)
            if policy.failure_mode == "fallback":  # already decided (and charged) locally
                self._owe(keys, policy)
                return self._conclude(policy, local, degraded=True)
        else:
            answer = await self.breaker.acquire(keys, policy.limits, policy.strategy, policy.cost)
            if answer is not None:
                if answer.allowed:  # the fallback counts this worker's share all the time
                    fallback.acquire_now(
                        keys, policy.fallback_limits, policy.strategy, policy.cost, fallback.clock(), force=True
                    )
                return self._conclude(policy, answer)
        mode = policy.failure_mode
        if mode == "open":
            self._counters["allowed_on_error"] += 1
            return Decision("allowed", policy, None, degraded=True)
        if mode == "closed":
            self._counters["rejected_on_error"] += 1
            return Decision("unavailable", policy, None, degraded=True)
        outcome = fallback.acquire_now(keys, policy.fallback_limits, policy.strategy, policy.cost, fallback.clock())
        if outcome.allowed:
            self._owe(keys, policy)
        return self._conclude(policy, outcome, degraded=True)

    def _owe(self, keys: tuple[str, ...], policy: Policy) -> None:
        """Remember a request the fallback admitted, for the store (bounded like the fallback)."""
        owed = self._owed
        for key, limit in zip(keys, policy.limits, strict=True):
            entry = owed.get(key)
            if entry is None:
                owed[key] = [limit, policy.strategy, policy.cost]
                if len(owed) > self.fallback.max_keys:
                    owed.popitem(last=False)
            else:
                entry[2] += policy.cost

    async def _hand_over(self) -> None:
        """Add what the fallback admitted while open to the store, in one round trip."""
        charges = [Charge(key, limit, strategy, cost) for key, (limit, strategy, cost) in self._owed.items()]
        await self.store.record(charges)
        self._owed.clear()
        self._consult_until = self.fallback.clock() + self._longest_window

    async def start(self) -> None:
        """Warm up at start-up: connect and load the scripts, then open the pooled connections.

        The first step is bounded by ``probe_timeout``: a store that is down then opens
        the breaker at once (requests are decided by the failure modes until a probe
        succeeds), and the app starts anyway. The further connections are best effort,
        never cut short (a cancelled ``gather`` of pool checkouts would keep connections
        out of the pool), each bounded by the client's connect and socket timeouts.
        """
        breaker = self.breaker
        if breaker is None:
            return
        config = self.config
        try:
            with anyio.fail_after(config.probe_timeout):
                await self.store.prepare()
        except Exception as exc:
            if not is_storage_error(exc):
                raise
            breaker.open_now(exc)
            return
        warm = config.redis_max_connections if config.redis_warm_connections is None else config.redis_warm_connections
        try:
            await self.store.prepare(warm)
        except Exception as exc:  # a store failing just now is the requests' to find, the breaker's to count
            if not is_storage_error(exc):
                raise

    def decide_now(self, policy: Policy, scope: Scope) -> Decision | None:
        """Decide one request without awaiting, or return ``None`` when that needs an ``await``.

        It can when the counters are in this process's memory and the policy's key
        function is not a coroutine; :meth:`decide` starts here.
        """
        memory = self._memory
        sync_key = policy.sync_key
        if memory is None or sync_key is None:
            return None
        keys = policy.storage_keys(sync_key(scope))
        outcome = memory.acquire_now(keys, policy.limits, policy.strategy, policy.cost, memory.clock())
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
        return self._counters

    def fallback_clock(self) -> float:
        """The fallback store's clock (monotonic seconds)."""
        return self.fallback.clock()

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
        policies.extend(self._endpoint_policies.values())
        return policies or [self._policy(PolicyOptions(limits="1/second"), "default")]

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
