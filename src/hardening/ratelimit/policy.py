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
from functools import lru_cache
from typing import Any, Final

from starlette.types import Scope

from hardening._asgi import RawHeaders, get_header
from hardening.clientip import ClientResolver, group_address
from hardening.ratelimit.config import FailureMode, KeyKind
from hardening.ratelimit.stores import Limit, Strategy

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
_KEYS_CACHE: Final = 2048
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


@dataclass(frozen=True, eq=False)
class Policy:
    """A compiled rate-limit policy.

    Attributes:
        name: The policy name (headers, logs, storage keys).
        limits: The limits enforced by the primary store.
        fallback_limits: The limits enforced by the in-memory fallback (scaled).
        strategy: The counting strategy.
        cost: Quota units per request.
        key: The key function.
        failure_mode: What to do while the store is unavailable.
        shadow: Decide but never reject.
        key_prefix: Prefix of the storage keys.
        sync_key: ``key`` without a coroutine, ``None`` when it must be awaited.
    """

    name: str
    limits: tuple[Limit, ...]
    fallback_limits: tuple[Limit, ...]
    strategy: Strategy
    cost: int
    key: KeyFunc
    failure_mode: FailureMode
    shadow: bool
    key_prefix: str
    sync_key: SyncKeyFunc | None = None
    item_names: tuple[str, ...] = field(init=False)
    policy_header: bytes = field(init=False)
    fallback_policy_header: bytes = field(init=False)
    item_prefixes: tuple[str, ...] = field(init=False, repr=False)
    _key_head: str = field(init=False, repr=False)
    _key_tails: tuple[str, ...] = field(init=False, repr=False)
    keys_for: Callable[[str], tuple[str, ...]] = field(init=False, repr=False)
    """:meth:`storage_keys`, cached for the most recent identities."""
    admit_now: Callable[[Scope], RawHeaders | None] | None = field(init=False, default=None, repr=False)
    """Set by the limiter when the common case has a fast path (see ``_admit``): admits a
    request and returns its rate-limit headers, or returns ``None`` having counted nothing
    when the generic path must decide (the request would be limited)."""

    def __post_init__(self) -> None:
        if len(self.limits) == 1:
            names: tuple[str, ...] = (self.name,)
        else:
            windows = [limit.window for limit in self.limits]
            if len(set(windows)) == len(windows):
                names = tuple(f"{self.name}-{window}s" for window in windows)
            else:
                names = tuple(f"{self.name}-{index}" for index in range(len(self.limits)))
        object.__setattr__(self, "item_names", names)
        object.__setattr__(self, "policy_header", self._policy_value(self.limits))
        object.__setattr__(self, "fallback_policy_header", self._policy_value(self.fallback_limits))
        object.__setattr__(self, "item_prefixes", tuple(f'"{name}";r=' for name in names))
        code = {"fixed-window": "f", "moving-window": "m", "sliding-window-counter": "s"}[self.strategy]
        object.__setattr__(self, "_key_head", f"{self.key_prefix}:{{{self.name}:")
        tails = tuple(f"}}:{limit.amount}/{limit.window}:{code}" for limit in self.limits)
        object.__setattr__(self, "_key_tails", tails)
        object.__setattr__(self, "keys_for", lru_cache(maxsize=_KEYS_CACHE)(self.storage_keys))

    def _policy_value(self, limits: Sequence[Limit]) -> bytes:
        return ", ".join(
            f'"{_header_name(name)}";q={limit.amount};w={limit.window}'
            for name, limit in zip(self.item_names, limits, strict=True)
        ).encode("latin-1")

    def storage_keys(self, identity: str) -> tuple[str, ...]:
        """Return one storage key per limit for ``identity``."""
        head = self._key_head + identity
        tails = self._key_tails
        if len(tails) == 1:
            return (head + tails[0],)
        return tuple([head + tail for tail in tails])


class PolicyTable:
    """Find the policy of a request: exempt paths, then rules in order, then the default.

    Args:
        rules: ``(pattern, methods, policy)`` triples in order; ``policy=None`` exempts.
        default: The policy of requests no rule matches (``None``: not limited).
        exempt_paths: Paths (and their sub-paths) never limited.
        cache_size: How many ``(method, path)`` answers are cached.
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
        exempt = tuple(path.rstrip("/") or "/" for path in exempt_paths)
        self._exempt_all = "/" in exempt
        self._exempt = frozenset(exempt)
        self._exempt_below = tuple(prefix + "/" for prefix in exempt)  # their sub-paths
        self.match = lru_cache(maxsize=cache_size)(self._match)

    def policies(self) -> list[Policy]:
        """Return every policy of the table (rules first, then the default)."""
        found = [policy for _, _, policy in self._rules if policy is not None]
        if self._default is not None:
            found.append(self._default)
        return found

    def _is_exempt(self, path: str) -> bool:
        return self._exempt_all or path in self._exempt or path.startswith(self._exempt_below)

    def _match(self, method: str, path: str) -> Policy | None:
        if self._is_exempt(path):
            return None
        for pattern, methods, policy in self._rules:
            if (not methods or method in methods) and pattern.fullmatch(path):
                return policy
        return self._default
