"""Policies compiled at start-up: which limits apply to a request, and whose bucket it is.

A :class:`Policy` is everything needed to decide a request without parsing anything:
the parsed limits (and their fallback share), the strategy, the cost, the key function,
the failure mode, and the ``RateLimit-Policy`` header values. :class:`PolicyTable` maps a
request's method and path to its policy, first match wins, with a bounded cache.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from starlette.types import Scope

from hardening._asgi import get_header
from hardening._paths import ProbePaths
from hardening.clientip import ClientResolver, group_address
from hardening.ratelimit.config import FailureMode, KeyKind
from hardening.ratelimit.windows import Limit, Strategy

__all__ = (
    "KeyFunc",
    "Policy",
    "PolicyTable",
    "SyncKeyFunc",
    "hash_identity",
    "key_functions",
    "template_pattern",
)

KeyFunc = Callable[[Scope], Awaitable[str]]
"""Returns the bucket identity of a request (already escaped and bounded)."""

SyncKeyFunc = Callable[[Scope], str]
"""A :data:`KeyFunc` that needs no ``await``."""

UNKNOWN_CLIENT: Final = "unknown-client"
_MAX_KEY_INPUT: Final = 4096
_IDENTITIES_CACHE: Final = 8192
_PARAM: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_]+))?\}")
_logger = logging.getLogger("hardening.ratelimit")


class UnknownClientError(Exception):
    """The request has no client address and ``unknown_client`` is ``reject``."""


def hash_identity(value: str | bytes) -> str:
    """Return a short, fixed-length digest of a user-controlled identity.

    Keys never contain raw header values: two different identities cannot collide by
    escaping tricks, and a 10 KB header does not make a 10 KB storage key.
    """
    data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    return "h:" + hashlib.blake2b(data[:_MAX_KEY_INPUT], digest_size=16).hexdigest()


def template_pattern(template: str) -> re.Pattern[str]:
    """Compile a route template (``/items/{id}``, ``/files/{p:path}``, ``/static/*``).

    The pattern ignores case and one trailing slash.
    """
    wildcard = template.endswith("*")
    body = template[:-1] if wildcard else template
    parts: list[str] = []
    position = 0
    for match in _PARAM.finditer(body):
        parts.append(re.escape(body[position : match.start()]))
        parts.append(".+" if match.group(2) == "path" else "[^/]+")
        position = match.end()
    parts.append(re.escape(body[position:]))
    regex = "".join(parts)
    if wildcard:
        regex += ".*"
    elif regex.endswith("/") and len(regex) > 1:
        regex = regex[:-1] + "/?"
    else:
        regex += "/?"
    return re.compile(regex, re.IGNORECASE)


def key_functions(
    kind: KeyKind,
    func: Callable[..., Any] | None,
    *,
    resolver: ClientResolver,
    ipv6_prefix: int,
    api_key_header: str,
    unknown_client: str,
) -> tuple[KeyFunc, SyncKeyFunc | None]:
    """Build a policy's key function, and the same function without a coroutine when it has one.

    The second is ``None`` only for an ``async`` custom ``func``; the built-in kinds never
    await anything, so the middleware calls them directly.
    """
    warned = False
    header = api_key_header.lower().encode("latin-1")
    client_ip = resolver.client_ip
    identities: dict[str, str] = {}  # address -> identity; `[]` costs less than the lru_cache call

    def unknown() -> str:
        nonlocal warned
        if unknown_client == "reject":
            raise UnknownClientError
        if not warned:
            warned = True
            _logger.warning(
                "ratelimit.unknown_client: a request has no client address (UNIX socket?), "
                "so such requests share the %r bucket. Trust the proxy in front of the socket "
                "with HARDENING_PROXY__TRUSTED_PROXIES='[\"unix\"]' (logged once).",
                UNKNOWN_CLIENT,
            )
        return UNKNOWN_CLIENT

    def remember(address: str) -> str:
        if len(identities) >= _IDENTITIES_CACHE:
            identities.clear()
        identity = identities[address] = _address_identity(address, ipv6_prefix)
        return identity

    def client(scope: Scope) -> str:
        address = client_ip(scope)
        if address is None:
            return unknown()
        try:
            return identities[address]
        except KeyError:
            return remember(address)

    sync: SyncKeyFunc | None
    if func is not None:
        if inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
            getattr(func, "__call__", None)  # noqa: B004 - callable objects
        ):

            async def custom_async(scope: Scope) -> str:
                value = await func(scope)
                if value is None:
                    return client(scope)
                return hash_identity(str(value))

            return custom_async, None

        def custom(scope: Scope) -> str:
            value = func(scope)
            if value is None:
                return client(scope)
            return hash_identity(str(value))

        sync = custom
    elif kind == "api_key":

        def by_api_key(scope: Scope) -> str:
            value = get_header(scope.get("headers", ()), header)
            if not value:
                return client(scope)
            return "key:" + hash_identity(value)[2:]

        sync = by_api_key
    elif kind == "user":

        def by_user(scope: Scope) -> str:
            user = scope.get("user")
            if user is not None and getattr(user, "is_authenticated", False):
                identity = getattr(user, "identity", None) or getattr(user, "display_name", None)
                if identity:
                    return "user:" + hash_identity(str(identity))[2:]
            return client(scope)

        sync = by_user
    else:
        sync = client

    async def key(scope: Scope) -> str:
        return sync(scope)

    return key, sync


def _address_identity(address: str, ipv6_prefix: int) -> str:
    """The bucket identity of a client address (the key functions cache it: grouping parses it)."""
    if not _looks_like_ip(address):  # not an address, e.g. a test client's name
        return hash_identity(address)
    return "ip:" + group_address(address, ipv6_prefix)


def _looks_like_ip(text: str) -> bool:
    return bool(text) and all(char in "0123456789abcdefABCDEF:./" for char in text)


def _header_name(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True, eq=False, slots=True)
class Policy:
    """A compiled rate-limit policy (built by :meth:`compile`).

    Attributes:
        name: The policy name (headers, logs, storage keys).
        limits: The limits enforced by the primary store.
        fallback_limits: The limits enforced by the in-memory fallback (scaled).
        strategy: The counting strategy.
        cost: Quota units per request.
        key: The key function.
        sync_key: ``key`` without a coroutine, ``None`` when it must be awaited.
        failure_mode: What to do while the store is unavailable.
        shadow: Decide but never reject.
        item_names: The ``RateLimit`` item name of each limit.
        policy_header: The ``RateLimit-Policy`` value.
        fallback_policy_header: The ``RateLimit-Policy`` value while the fallback decides.
        item_prefixes: ``'"name";r='`` of each item.
        key_parts: The storage key's head, and its tail per limit.
    """

    name: str
    limits: tuple[Limit, ...]
    fallback_limits: tuple[Limit, ...]
    strategy: Strategy
    cost: int
    key: KeyFunc
    sync_key: SyncKeyFunc | None
    failure_mode: FailureMode
    shadow: bool
    item_names: tuple[str, ...]
    policy_header: bytes
    fallback_policy_header: bytes
    item_prefixes: tuple[str, ...] = field(repr=False)
    key_parts: tuple[str, tuple[str, ...]] = field(repr=False)

    @classmethod
    def compile(
        cls,
        name: str,
        limits: tuple[Limit, ...],
        fallback_limits: tuple[Limit, ...],
        *,
        strategy: Strategy,
        cost: int,
        keys: tuple[KeyFunc, SyncKeyFunc | None],
        failure_mode: FailureMode,
        shadow: bool,
        key_prefix: str,
    ) -> Policy:
        """Compute everything a request needs from the policy once, and build it."""
        if len(limits) == 1:
            names: tuple[str, ...] = (name,)
        else:
            windows = [limit.window for limit in limits]
            if len(set(windows)) == len(windows):
                names = tuple(f"{name}-{window}s" for window in windows)
            else:
                names = tuple(f"{name}-{index}" for index in range(len(limits)))
        code = {"fixed-window": "fw", "moving-window": "m", "sliding-window-counter": "s"}[strategy]
        # The identity sits inside the hash tag, so every key of one decision (and the
        # sliding window's per-window keys) lands on one Redis Cluster node.
        head = f"{key_prefix}:{{{name}:"
        tails = tuple(f"}}:{limit.amount}/{limit.window}:{code}" for limit in limits)
        return cls(
            name=name,
            limits=limits,
            fallback_limits=fallback_limits,
            strategy=strategy,
            cost=cost,
            key=keys[0],
            sync_key=keys[1],
            failure_mode=failure_mode,
            shadow=shadow,
            item_names=names,
            policy_header=_policy_value(names, limits),
            fallback_policy_header=_policy_value(names, fallback_limits),
            item_prefixes=tuple(f'"{item}";r=' for item in names),
            key_parts=(head, tails),
        )

    def storage_keys(self, identity: str) -> tuple[str, ...]:
        """Return one storage key per limit for ``identity``."""
        head, tails = self.key_parts
        head += identity
        if len(tails) == 1:
            return (head + tails[0],)
        return tuple([head + tail for tail in tails])


def _policy_value(names: Sequence[str], limits: Sequence[Limit]) -> bytes:
    return ", ".join(
        f'"{_header_name(name)}";q={limit.amount};w={limit.window}' for name, limit in zip(names, limits, strict=True)
    ).encode("latin-1")


class PolicyTable:
    """Find the policy of a request: exempt paths, then rules in order, then the default.

    Answers are remembered per ``(method, path)``, at most ``cache_size`` of them (a
    client can send any method and path; past the bound the memory starts afresh).

    Args:
        rules: ``(pattern, methods, policy)`` triples in order; ``policy=None`` exempts.
        default: The policy of requests no rule matches (``None``: not limited).
        exempt_paths: Paths never limited, matched as the health layer matches its
            paths (exactly; an entry ending in ``/`` covers what is below it).
        cache_size: How many ``(method, path)`` answers are remembered.
    """

    def __init__(
        self,
        rules: Sequence[tuple[re.Pattern[str], frozenset[str], Policy | None]],
        default: Policy | None,
        exempt_paths: Sequence[str],
        cache_size: int = 8192,
    ) -> None:
        self._rules = tuple(rules)
        self._default = default
        self._exempt = ProbePaths(tuple(exempt_paths))
        self._cache: dict[tuple[str, str], Policy | None] = {}
        self.cache_size = cache_size
        """The most ``(method, path)`` answers remembered."""

    def policies(self) -> list[Policy]:
        """Return every policy of the table (rules first, then the default)."""
        found = [policy for _, _, policy in self._rules if policy is not None]
        if self._default is not None:
            found.append(self._default)
        return found

    @property
    def remembered(self) -> int:
        """How many ``(method, path)`` answers are remembered now."""
        return len(self._cache)

    def match(self, method: str, path: str) -> Policy | None:
        """Return the policy of a request, ``None`` when it is not limited."""
        try:
            return self._cache[method, path]
        except KeyError:
            pass
        cache = self._cache
        if len(cache) >= self.cache_size:
            cache.clear()
        policy = cache[method, path] = self._match(method, path)
        return policy

    def _match(self, method: str, path: str) -> Policy | None:
        if self._exempt.matches(path):
            return None
        for pattern, methods, policy in self._rules:
            if (not methods or method in methods) and pattern.fullmatch(path):
                return policy
        return self._default
