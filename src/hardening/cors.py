"""Cross-origin resource sharing that is safe by default.

:class:`CORSMiddleware` answers preflights and decorates every other response with the
CORS headers its :class:`CORSConfig` allows, and nothing for an origin it does not:

* explicit origins, ``https://*.example.com`` subdomain patterns and (opt-in) regexes
  matched in full against well-formed origins only; ``null`` only when listed;
* a wildcard with credentials, or a regex as broad as ``.*``, stops start-up;
* ``Vary: Origin`` on every response whose headers depend on the origin, merged into
  the app's own ``Vary``, never duplicated;
* a preflight only when ``Access-Control-Request-Method`` is present (other ``OPTIONS``
  requests reach the app); a refused preflight is a 403 problem with no
  ``Access-Control-Allow-*`` header; Private Network Access when enabled;
* per-path rules matched on ``scope["path"]``.

The layer owns the ``Access-Control-*`` response headers: ones the app set are replaced
for allowed origins and removed otherwise (a warning is logged once). With no origin
configured (the default) no CORS header is ever sent, so only same-origin pages can
read responses.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from hardening._asgi import add_error_response_editor
from hardening._config import LayerConfig, env_var
from hardening._origins import OriginMatcher, normalise_origin_entry, parse_origin
from hardening._paths import check_path_prefixes
from hardening.checks import Finding
from hardening.errors import ConfigurationError
from hardening.problems import Problem, problem_type, send_problem
from hardening.profiles import DEPLOYED_ENVIRONMENTS

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from hardening.checks import Check
    from hardening.settings import HardeningSettings

__all__ = ("CHECKS", "CORSConfig", "CORSMiddleware", "CORSPolicy", "CORSRule", "merge_vary")

logger = logging.getLogger("hardening.cors")

ENV_PREFIX: Final = "HARDENING_CORS__"
DEFAULT_EXPOSE_HEADERS: Final = ("RateLimit", "RateLimit-Policy", "Retry-After", "X-Request-ID")
"""Response headers exposed to cross-origin scripts by default."""

_SAFELISTED_HEADERS: Final = frozenset({"accept", "accept-language", "content-language"})
_TOKEN_RE: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_PREFLIGHT_VARY: Final = ("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers")
_PNA_VARY: Final = "Access-Control-Request-Private-Network"
_MAX_AGE_LIMIT: Final = 86_400


class CORSPolicy(BaseModel):
    """The CORS settings of one policy: the whole app's, or one path rule's."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    allow_origins: tuple[str, ...] = ()
    """Origins whose scripts may read responses: exact origins (``https://app.example.com``),
    subdomain patterns (``https://*.example.com``, never the apex), ``null`` (sandboxed
    frames, ``file:``; avoid), or ``*`` alone (any origin, without credentials). Empty:
    same-origin only, no CORS header is sent."""

    allow_origin_regex: tuple[str, ...] = ()
    """Regular expressions an origin must match in full (``re.fullmatch``), for example
    ``https://pr-[0-9]+\\.preview\\.example\\.com``. Patterns such as ``.*`` or ``\\S+``,
    which also match dots and slashes, are refused."""

    allow_methods: tuple[str, ...] = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
    """Methods a cross-origin request may use (compared case-sensitively after
    upper-casing the configured names), or ``*`` for any."""

    allow_headers: tuple[str, ...] = ("Authorization", "Content-Type", "X-Request-ID")
    """Request headers a cross-origin request may send (case-insensitive), or ``*`` for
    any. ``Accept``, ``Accept-Language`` and ``Content-Language`` are always allowed."""

    allow_credentials: bool = False
    """Whether cross-origin requests may carry cookies or HTTP authentication. Refused
    together with the ``*`` origin."""

    expose_headers: tuple[str, ...] = DEFAULT_EXPOSE_HEADERS
    """Response headers that cross-origin scripts may read."""

    max_age: int = Field(default=600, ge=0, le=_MAX_AGE_LIMIT)
    """Seconds a browser may cache a preflight answer (Chromium caps it at 7200)."""

    allow_private_network: bool = False
    """Answer Private Network Access preflights (``Access-Control-Request-Private-Network``)
    from allowed origins, so public pages may call this service on a private network."""

    @field_validator("allow_methods", "allow_headers", "expose_headers")
    @classmethod
    def _check_tokens(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        field = info.field_name or ""
        for item in value:
            if item != "*" and not _TOKEN_RE.fullmatch(item):
                msg = (
                    f"{env_var(f'cors.{field}')}: {item!r} is not a valid HTTP token. "
                    "Use names such as 'Content-Type' or 'PATCH', or '*' alone."
                )
                raise ValueError(msg)
        if "*" in value and len(value) > 1:
            msg = f"{env_var(f'cors.{field}')}: '*' must be the only entry when used."
            raise ValueError(msg)
        return tuple(item.upper() for item in value) if field == "allow_methods" else value

    @field_validator("allow_origins")
    @classmethod
    def _normalise_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        result: list[str] = []
        for item in value:
            normal = normalise_origin_entry(item)
            if normal is None:
                msg = (
                    f"{ENV_PREFIX}ALLOW_ORIGINS: {item!r} is not an origin. Expected "
                    "scheme://host[:port] with no path, query or trailing slash (for example "
                    "'https://app.example.com' or 'https://*.example.com'), 'null' or '*'."
                )
                raise ValueError(msg)
            if normal not in result:
                result.append(normal)
        if "*" in result and len(result) > 1:
            msg = f"{ENV_PREFIX}ALLOW_ORIGINS: '*' allows every origin and must be the only entry."
            raise ValueError(msg)
        return tuple(result)

    @field_validator("allow_origin_regex")
    @classmethod
    def _check_regexes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                re.compile(item)
            except re.error as exc:
                msg = f"{ENV_PREFIX}ALLOW_ORIGIN_REGEX: {item!r} is not a valid regular expression ({exc})."
                raise ValueError(msg) from None
            reason = broad_regex_reason(item)
            if reason is not None:
                msg = (
                    f"{ENV_PREFIX}ALLOW_ORIGIN_REGEX: {item!r} is too broad: {reason}. Match "
                    "host labels with a class such as '[a-z0-9-]+' and escape dots ('\\.'), "
                    "for example 'https://[a-z0-9-]+\\.example\\.com'."
                )
                raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _refuse_wildcard_with_credentials(self) -> CORSPolicy:
        if self.allow_credentials and "*" in self.allow_origins:
            raise ValueError(_WILDCARD_CREDENTIALS)
        return self


_WILDCARD_CREDENTIALS: Final = (
    f"{ENV_PREFIX}ALLOW_ORIGINS: the '*' origin cannot be combined with allowed credentials "
    f"({ENV_PREFIX}ALLOW_CREDENTIALS): it would let every site read responses with the "
    "user's cookies. List the origins that need credentials explicitly, for example "
    "'[\"https://app.example.com\"]', or turn credentials off."
)


class CORSRule(CORSPolicy):
    """A CORS policy for every path under ``path``.

    Fields left out inherit the value of the top-level :class:`CORSConfig`; the longest
    matching ``path`` wins.
    """

    path: str
    """Path prefix matched on ``scope["path"]`` at segment boundaries (``/api`` matches
    ``/api`` and ``/api/items``, not ``/apix``)."""

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        check_path_prefixes((value,), f"{ENV_PREFIX}RULES[].path")
        return value


class CORSConfig(LayerConfig, CORSPolicy):
    """CORS for the whole app, with optional per-path rules.

    Enabled by default with no allowed origin: no CORS header is sent, preflights are
    refused, and only same-origin pages can read responses. Set
    ``HARDENING_CORS__ALLOW_ORIGINS='["https://app.example.com"]'`` to open it up.
    """

    rules: tuple[CORSRule, ...] = ()
    """Per-path policies (``HARDENING_CORS__RULES`` as a JSON list of objects with a
    ``path`` and any policy field); unset fields inherit from this config."""

    def effective_rules(self) -> tuple[tuple[str, CORSPolicy], ...]:
        """Return ``(path, policy)`` pairs with inherited fields filled in, longest first."""
        base = {name: getattr(self, name) for name in CORSPolicy.model_fields}
        pairs: list[tuple[str, CORSPolicy]] = []
        for rule in self.rules:
            fields = dict(base)
            fields.update({name: getattr(rule, name) for name in rule.model_fields_set if name != "path"})
            try:
                policy = CORSPolicy(**fields)
            except ValueError:
                raise ValueError(_WILDCARD_CREDENTIALS + f" (in the rule for {rule.path!r})") from None
            pairs.append((rule.path, policy))
        pairs.sort(key=lambda pair: len(pair[0].rstrip("/")), reverse=True)
        return tuple(pairs)

    @model_validator(mode="after")
    def _check_rules(self) -> CORSConfig:
        self.effective_rules()
        return self

    def build(self, app: ASGIApp, settings: HardeningSettings | None = None) -> ASGIApp:
        """Return ``app`` wrapped in :class:`CORSMiddleware`, or ``app`` when disabled."""
        if not self.enabled:
            return app
        return CORSMiddleware(app, self)


def broad_regex_reason(pattern: str) -> str | None:
    r"""Return why an origin regex is too broad, or ``None`` when it is acceptable.

    A repeated element that also matches ``.`` and ``/`` (``.``, ``\S``, ``\W``, ``\D``
    or a negated class that does not exclude ``.``) lets ``https://example\.com.*`` match
    ``https://example.com.evil.com``: such patterns are refused.
    """
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            broad = pattern[i + 1 : i + 2] in ("S", "W", "D")
            token = pattern[i : i + 2]
            i += 2
        elif ch == "[":
            j = i + 1
            negated = pattern[j : j + 1] == "^"
            j += 1 if negated else 0
            j += 1 if pattern[j : j + 1] == "]" else 0
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            body = pattern[i + 1 : j]
            token = pattern[i : j + 1]
            i = j + 1
            if negated:
                broad = "." not in body
            elif "." in body and _repeats(pattern[i:]) and "\\." not in pattern[i:]:
                return f"{token!r} repeated at the end of the host also matches 'example.com.evil.com'"
            else:
                broad = False
        else:
            broad = ch == "."
            token = ch
            i += 1
        if broad and _repeats(pattern[i:]):
            return f"{token!r} followed by a repetition matches any character, dots and slashes included"
    return None


def _repeats(rest: str) -> bool:
    if rest[:1] in ("*", "+"):
        return True
    match = re.match(r"\{(\d*)(,?)(\d*)\}", rest)
    if match is None:
        return False
    low, comma, high = match.groups()
    if not comma:
        return int(low or "0") > 1
    return not high or int(high) > 1


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


_ADDED_CACHE_SIZE: Final = 1024
"""How many allowed origins' response headers a policy keeps (regex policies allow many)."""

_NAME_CACHE_SIZE: Final = 1024
"""How many distinct response header names (any case) the middleware classifies once."""
_VARY_ORIGIN: Final = ((b"vary", b"Origin"),)
"""``Vary: Origin``, for responses whose CORS headers depend on the Origin header."""


class _Compiled:
    """A :class:`CORSPolicy` turned into what the request path needs."""

    __slots__ = (
        "active",
        "allowed_cache",
        "any_header",
        "any_method",
        "credentials",
        "expose",
        "headers",
        "headers_value",
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
        if policy.allow_credentials and "*" in policy.allow_origins:
            raise ConfigurationError(_WILDCARD_CREDENTIALS)
        for regex in policy.allow_origin_regex:
            if broad_regex_reason(regex) is not None:
                msg = f"{ENV_PREFIX}ALLOW_ORIGIN_REGEX: {regex!r} is too broad."
                raise ConfigurationError(msg)
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
        # Keyed by the raw Origin header value, so the request path neither decodes it nor
        # calls added_headers() for an origin seen before.
        self.allowed_cache: dict[bytes, tuple[tuple[bytes, bytes], ...]] = {}

    def allows(self, origin: str) -> bool:
        return self.wildcard or self.matcher.matches(origin)

    def added_headers(self, origin: str | bytes | None) -> tuple[tuple[bytes, bytes], ...]:
        """Return the CORS headers an actual (non-preflight) response gets for ``origin``.

        ``origin`` is the Origin header, as text or as its raw (Latin-1) bytes. The answers
        for allowed origins are kept (at most :data:`_ADDED_CACHE_SIZE`), as is the one
        for every other request, so most requests build nothing.
        """
        if origin is None:
            return self.not_allowed
        raw = origin if isinstance(origin, bytes) else origin.encode("latin-1")
        added = self.allowed_cache.get(raw)
        if added is not None:
            return added
        origin = raw.decode("latin-1")
        if not (self.active and self.allows(origin)):
            return self.not_allowed
        pairs = [(b"access-control-allow-origin", b"*" if self.wildcard else origin.encode())]
        if self.credentials:
            pairs.append((b"access-control-allow-credentials", b"true"))
        if self.expose:
            pairs.append((b"access-control-expose-headers", self.expose))
        added = tuple(pairs)
        if len(self.allowed_cache) < _ADDED_CACHE_SIZE:
            self.allowed_cache[raw] = added
        return added


class CORSMiddleware:
    """Pure ASGI CORS middleware configured by a :class:`CORSConfig`.

    Args:
        app: The ASGI app to wrap.
        config: The CORS settings; validated again here, so a config built without
            validation still cannot combine ``*`` with credentials.

    Raises:
        ConfigurationError: When the config is unsafe (wildcard with credentials, an
            over-broad origin regex).
    """

    def __init__(self, app: ASGIApp, config: CORSConfig | None = None) -> None:
        config = config or CORSConfig()
        self.app = app
        self._default = _Compiled(config)
        self._rules = tuple((path.rstrip("/"), _Compiled(policy)) for path, policy in config.effective_rules())
        self._warned = False
        # Response header names (as the app spelled them) that are neither Access-Control-*
        # nor Vary: most responses carry only such names, and need no rebuilding.
        self._plain_names: set[bytes] = set()

    def _is_cors_or_vary(self, name: bytes) -> bool:
        """Whether a response header name not known to be plain is ``Access-Control-*`` or ``Vary``."""
        lower = name.lower()
        if lower.startswith(b"access-control-") or lower == b"vary":
            return True
        if len(self._plain_names) < _NAME_CACHE_SIZE:
            self._plain_names.add(name)
        return False

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
        # added_headers() inlined for an origin seen before (the cache holds allowed ones).
        added = policy.not_allowed if origin is None else policy.allowed_cache.get(origin)
        if added is None:
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
        try:  # optional in ASGI; a subscript is cheaper than .get() when it is there
            headers = [*message["headers"]]
        except KeyError:
            headers = []
        # The common case: the app set no Access-Control-* and no Vary header. One pass
        # over names known to be plain (no lower-casing), then ours appended.
        plain = self._plain_names
        for name, _ in headers:
            if name not in plain and self._is_cors_or_vary(name):
                break
        else:
            headers += added
            if policy.vary_origin:
                headers += _VARY_ORIGIN
            message["headers"] = headers
            return
        kept: list[tuple[bytes, bytes]] = []
        replaced = has_vary = False
        for key, value in headers:
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
            if has_vary:
                kept = merge_vary(kept, ("Origin",))
            else:  # merging into no Vary field of the app's comes down to adding ours
                kept.append((b"vary", b"Origin"))
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
        if not (policy.active and policy.allows(origin)):
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


# --- production rules -------------------------------------------------------------------


def _policies(settings: HardeningSettings) -> list[tuple[str, str | None, CORSPolicy]]:
    """Return ``(setting, rules env var or None, policy)`` for the config and its rules."""
    cors = settings.cors
    if not cors.enabled:
        return []
    items: list[tuple[str, str | None, CORSPolicy]] = [("cors", None, cors)]
    items.extend((f"cors.rules[{i}]", f"{ENV_PREFIX}RULES", rule) for i, rule in enumerate(cors.rules))
    return items


def _env(rules_env: str | None, field: str) -> str:
    """Return the variable that sets ``field``: its own, or the rules list for a rule."""
    return rules_env or env_var(f"cors.{field}")


def _production(settings: HardeningSettings) -> bool:
    return settings.environment in DEPLOYED_ENVIRONMENTS


def _check_wildcard_credentials(settings: HardeningSettings) -> Iterable[Finding]:
    for setting, env, policy in _policies(settings):
        if "*" in policy.allow_origins and policy.allow_credentials:
            yield Finding(
                id="HARDENING-CORS-001",
                severity="error",
                message="CORS allows every origin ('*') together with credentials.",
                hint="List the origins that need credentials explicitly.",
                setting=f"{setting}.allow_origins",
                env_var=_env(env, "allow_origins"),
            )


def _check_unescaped_dots(settings: HardeningSettings) -> Iterable[Finding]:
    for setting, env, policy in _policies(settings):
        for regex in policy.allow_origin_regex:
            if _has_unescaped_dot(regex):
                yield Finding(
                    id="HARDENING-CORS-002",
                    severity="warning",
                    message=f"The origin regex {regex!r} has an unescaped '.', which matches any character.",
                    hint="Escape dots in host names ('\\.'), e.g. 'https://app\\.example\\.com'.",
                    setting=f"{setting}.allow_origin_regex",
                    env_var=_env(env, "allow_origin_regex"),
                )


def _has_unescaped_dot(pattern: str) -> bool:
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        elif ch == "." and not in_class:
            return True
        i += 1
    return False


def _check_null_origin(settings: HardeningSettings) -> Iterable[Finding]:
    for setting, env, policy in _policies(settings):
        if "null" in policy.allow_origins:
            yield Finding(
                id="HARDENING-CORS-003",
                severity="warning",
                message="CORS allows the 'null' origin, which any sandboxed iframe or local file can send.",
                hint="Remove 'null' from the allowed origins.",
                setting=f"{setting}.allow_origins",
                env_var=_env(env, "allow_origins"),
            )


def _check_production_origins(settings: HardeningSettings) -> Iterable[Finding]:
    if not _production(settings):
        return
    for setting, env, policy in _policies(settings):
        if "*" in policy.allow_origins:
            yield Finding(
                id="HARDENING-CORS-004",
                severity="warning",
                message="CORS allows every origin ('*'): any site can read these responses.",
                hint="Keep '*' for public, unauthenticated data only; otherwise list the origins.",
                setting=f"{setting}.allow_origins",
                env_var=_env(env, "allow_origins"),
            )
        for entry in policy.allow_origins:
            parsed = parse_origin(entry.replace("://*.", "://"))
            if parsed is None:
                continue
            local = parsed.host in ("localhost", "127.0.0.1", "[::1]") or parsed.host.endswith(".localhost")
            if parsed.scheme == "http" or local:
                yield Finding(
                    id="HARDENING-CORS-005",
                    severity="warning",
                    message=f"CORS allows the origin {entry!r} in production (plain http or a local address).",
                    hint="Allow only the https origins of your deployed front ends in production.",
                    setting=f"{setting}.allow_origins",
                    env_var=_env(env, "allow_origins"),
                )


CHECKS: tuple[Check, ...] = (
    _check_wildcard_credentials,
    _check_unescaped_dots,
    _check_null_origin,
    _check_production_origins,
)
"""Production rules of the CORS layer (``HARDENING-CORS-001`` to ``-005``)."""
