"""The pure ASGI CORS middleware (see :mod:`hardening.cors`)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING

from hardening._asgi import add_error_response_editor
from hardening.cors._config import (
    _PNA_VARY,
    _PREFLIGHT_VARY,
    _SAFELISTED_HEADERS,
    _TOKEN_RE,
    CORSConfig,
    CORSPolicy,
    revalidate,
)
from hardening.cors._origins import OriginMatcher
from hardening.problems import Problem, problem_type, send_problem

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from hardening._context import LayerContext

__all__ = ("CORSMiddleware", "merge_vary")

logger = logging.getLogger("hardening.cors")


def merge_vary(headers: list[tuple[bytes, bytes]], names: Iterable[str]) -> list[tuple[bytes, bytes]]:
    """Return ``headers`` with ``names`` merged into a single ``Vary`` field.

    Existing ``Vary`` fields (there may be several) are combined; names compare
    case-insensitively and are never repeated; ``Vary: *`` is kept as it is.
    """
    tokens: list[str] = []
    others: list[tuple[bytes, bytes]] = []
    for key, value in headers:
        if key.lower() == b"vary":
            tokens.extend(t.strip() for t in value.decode("latin-1").split(",") if t.strip())
        else:
            others.append((key, value))
    seen = {token.lower() for token in tokens}
    if "*" not in seen:
        for name in names:
            if name.lower() not in seen:
                seen.add(name.lower())
                tokens.append(name)
    else:
        tokens = ["*"]
    others.append((b"vary", ", ".join(tokens).encode("latin-1")))
    return others


class _Compiled:
    """A :class:`CORSPolicy` turned into what the request path needs."""

    __slots__ = (
        "active",
        "any_header",
        "any_method",
        "credentials",
        "expose",
        "headers",
        "headers_value",
        "listed",
        "matcher",
        "max_age",
        "methods",
        "methods_value",
        "not_allowed",
        "pna",
        "vary_origin",
        "wildcard",
    )

    def __init__(self, policy: CORSPolicy) -> None:
        self.wildcard = "*" in policy.allow_origins
        self.matcher = OriginMatcher(
            policy.allow_origins, tuple(re.compile(item) for item in policy.allow_origin_regex)
        )
        self.active = self.wildcard or bool(self.matcher)
        self.credentials = policy.allow_credentials
        # With "*" and no credentials the answer does not depend on the Origin header.
        self.vary_origin = self.active and not self.wildcard
        self.any_method = "*" in policy.allow_methods
        self.methods = frozenset(policy.allow_methods)
        self.methods_value = ", ".join(policy.allow_methods).encode()
        self.any_header = "*" in policy.allow_headers
        self.headers = frozenset(h.lower() for h in policy.allow_headers) | _SAFELISTED_HEADERS
        self.headers_value = ", ".join(policy.allow_headers).encode()
        self.expose = ", ".join(policy.expose_headers).encode() if policy.expose_headers else b""
        self.max_age = str(policy.max_age).encode()
        self.pna = policy.allow_private_network
        # Without an allowed origin only a wildcard policy adds anything.
        wildcard_pairs = [(b"access-control-allow-origin", b"*")]
        if self.expose:
            wildcard_pairs.append((b"access-control-expose-headers", self.expose))
        self.not_allowed: tuple[tuple[bytes, bytes], ...] = tuple(wildcard_pairs) if self.wildcard else ()
        # The answers for the origins listed by name (and 'null'), computed once here.
        self.listed = {
            entry.encode(): self._pairs(entry.encode())
            for entry in policy.allow_origins
            if entry != "*" and "://*." not in entry
        }

    def allows(self, origin: str) -> bool:
        """Whether the Origin header value ``origin`` is allowed by this policy."""
        return self.active and (self.wildcard or self.matcher.matches(origin))

    def added_headers(self, origin: bytes | None) -> tuple[tuple[bytes, bytes], ...]:
        """Return the CORS headers an actual (non-preflight) response gets.

        ``origin`` is the raw Origin header (``None`` when absent).
        """
        if origin is None:
            return self.not_allowed
        listed = self.listed.get(origin)
        if listed is not None:
            return listed
        return self._pairs(origin) if self.allows(origin.decode("latin-1")) else self.not_allowed

    def _pairs(self, origin: bytes) -> tuple[tuple[bytes, bytes], ...]:
        pairs = [(b"access-control-allow-origin", b"*" if self.wildcard else origin)]
        if self.credentials:
            pairs.append((b"access-control-allow-credentials", b"true"))
        if self.expose:
            pairs.append((b"access-control-expose-headers", self.expose))
        return tuple(pairs)


class CORSMiddleware:
    """Pure ASGI CORS middleware configured by a :class:`CORSConfig`.

    Args:
        app: The ASGI app to wrap.
        config: The CORS settings; validated again here (the same validators), so a
            config built without validation (``model_construct``) cannot slip through.
        context: The stack's shared context (this layer needs nothing from it).

    Raises:
        ConfigurationError: When the config is unsafe (a wildcard with credentials, an
            over-broad origin regex); the message names the setting.
    """

    def __init__(self, app: ASGIApp, config: CORSConfig | None = None, *, context: LayerContext | None = None) -> None:
        config = revalidate(config or CORSConfig())
        self.app = app
        self._default = _Compiled(config)
        self._rules = tuple((path.rstrip("/"), _Compiled(policy)) for path, policy in config.effective_rules())
        self._warned = False

    def _policy_for(self, path: str) -> _Compiled:
        for prefix, policy in self._rules:
            if path == prefix or path.startswith(prefix + "/") or not prefix:
                return policy
        return self._default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a preflight, or run the app and add the CORS headers to its response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self._policy_for(scope["path"]) if self._rules else self._default
        origin: bytes | None = None
        origins = 0
        for key, value in scope["headers"]:
            if key == b"origin":
                origin = value
                origins += 1
        if origins > 1:
            origin = b""  # several Origin fields: not a well-formed origin, matches nothing
        if origin is not None and scope["method"] == "OPTIONS":
            request_method: bytes | None = None
            for key, value in scope["headers"]:  # only a preflight needs it: a second pass
                if key == b"access-control-request-method":
                    request_method = value
            if request_method is not None:
                await self._preflight(scope, send, policy, origin.decode("latin-1"), request_method)
                return
        added = policy.added_headers(origin)

        def wrapped(message: Message) -> Awaitable[None]:
            # A plain function returning the awaitable of the next send: no coroutine of ours.
            if message["type"] == "http.response.start":
                self._edit(message, policy, added)
            return send(message)

        try:
            await self.app(scope, receive, wrapped)
        except Exception:
            # The error guard outside answers with its own 500 (replacing any response a
            # framework started and re-raised after): have it carry these headers too.
            add_error_response_editor(scope, lambda message: self._edit(message, policy, added))
            raise

    def _edit(self, message: Message, policy: _Compiled, added: tuple[tuple[bytes, bytes], ...]) -> None:
        """Replace the app's ``Access-Control-*`` headers with ours; add ``Vary: Origin``."""
        # A new list (never edit the app's in place; it may be any iterable, read once).
        kept: list[tuple[bytes, bytes]] = []
        replaced = has_vary = False
        for key, value in message.get("headers") or ():
            lower = key.lower()
            if lower.startswith(b"access-control-"):
                replaced = True
                continue
            if lower == b"vary":
                has_vary = True
            kept.append((key, value))
        if replaced:
            self._warn_app_headers()
        kept.extend(added)
        if policy.vary_origin:
            kept = merge_vary(kept, ("Origin",)) if has_vary else [*kept, (b"vary", b"Origin")]
        message["headers"] = kept

    def _warn_app_headers(self) -> None:
        if not self._warned:
            self._warned = True
            logger.warning(
                "The app set Access-Control-* headers; the CORS layer replaced them. Configure "
                "HARDENING_CORS__ALLOW_ORIGINS, or set HARDENING_CORS__ENABLED=false to let "
                "the app handle CORS itself."
            )

    async def _preflight(self, scope: Scope, send: Send, policy: _Compiled, origin: str, request_method: bytes) -> None:
        request_headers: list[str] = []
        private_network = False
        for key, value in scope["headers"]:
            if key == b"access-control-request-headers":
                request_headers.extend(
                    item.strip().lower() for item in value.decode("latin-1").split(",") if item.strip()
                )
            elif key == b"access-control-request-private-network":
                private_network = value.strip().lower() == b"true"
        vary = [*_PREFLIGHT_VARY, _PNA_VARY] if policy.pna else list(_PREFLIGHT_VARY)
        method = request_method.decode("latin-1")
        failed: str | None = None
        if not policy.allows(origin):
            failed = "origin"
        elif not ((policy.any_method and _TOKEN_RE.fullmatch(method)) or method in policy.methods):
            failed = "method"
        elif not all(
            (policy.any_header and _TOKEN_RE.fullmatch(name)) or name in policy.headers for name in request_headers
        ):
            failed = "headers"
        elif private_network and not policy.pna:
            failed = "private network access"
        if failed is not None:
            problem = Problem(
                403,
                type=problem_type("cors-preflight-rejected"),
                title="CORS preflight rejected",
                detail=f"The cross-origin request is not allowed: {failed} not allowed.",
            )
            await send_problem(scope, send, problem, headers=merge_vary([], vary))
            return
        headers: list[tuple[bytes, bytes]] = [
            (b"access-control-allow-origin", b"*" if policy.wildcard else origin.encode()),
            (b"access-control-allow-methods", request_method if policy.any_method else policy.methods_value),
        ]
        if policy.any_header:
            if request_headers:
                headers.append((b"access-control-allow-headers", ", ".join(request_headers).encode()))
        elif policy.headers_value:
            headers.append((b"access-control-allow-headers", policy.headers_value))
        headers.append((b"access-control-max-age", policy.max_age))
        if policy.credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        if private_network:
            headers.append((b"access-control-allow-private-network", b"true"))
        headers.append((b"content-length", b"0"))
        headers = merge_vary(headers, vary)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
