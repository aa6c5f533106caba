"""``SecurityHeadersMiddleware``: pure ASGI, header bytes computed once."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable
from typing import Any, Final

from pydantic import ValidationError

from hardening._asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    add_error_response_editor,
    get_header,
    scope_state,
)
from hardening._context import LayerContext
from hardening.errors import ConfigurationError
from hardening.headers._config import MANAGED_HEADERS, SecurityHeadersConfig
from hardening.headers._profile import ProfileName
from hardening.headers._render import CompiledProfile, compile_hsts, compile_profile
from hardening.headers._reports import ReportReceiver
from hardening.headers.csp import CSP_NONCE_STATE_KEY, new_nonce

__all__ = ("SecurityHeadersMiddleware", "is_local_host")

_HTML_TYPES: Final = frozenset({b"text/html", b"application/xhtml+xml"})
_CSP_NAMES: Final = (b"content-security-policy", b"content-security-policy-report-only")
_CACHE: Final = b"cache-control"
_NO_STORE: Final = b"no-store"
_VALIDATORS: Final = frozenset({b"etag", b"last-modified"})
_HSTS: Final = b"strict-transport-security"
_CONTENT_TYPE: Final = b"content-type"
_MANAGED: Final = frozenset(name.encode() for name in MANAGED_HEADERS)


def _classify(content_type: bytes | None) -> ProfileName:
    """Pick the profile of a response by its ``Content-Type``: HTML is a web app page."""
    if content_type is not None and content_type.split(b";", 1)[0].strip().lower() in _HTML_TYPES:
        return "webapp"
    return "api"


def is_local_host(host: str) -> bool:
    """Return whether ``host`` (a Host header, port allowed) names this machine."""
    if host[:1].isalpha() and "localhost" not in host.lower():
        return False  # the usual case: a name (an IP literal starts with a digit, '[' or ':')
    host = host.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    host = host.rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    if not (host[:1].isdigit() or ":" in host):
        return False  # a name, not an IP literal (IPv4 starts with a digit, IPv6 has colons)
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SecurityHeadersMiddleware:
    """Add security headers to every HTTP response, chosen per response class.

    * A per-request CSP nonce is stored in ``scope["state"]["csp_nonce"]`` (read it with
      :func:`hardening.csp_nonce`); responses carrying it get ``Cache-Control: no-store``
      unless the app already said ``no-store`` or ``private``, and lose ``ETag`` and
      ``Last-Modified`` (a 304 must never pair an old body with a new nonce).
    * HSTS and ``upgrade-insecure-requests`` only on HTTPS (scheme resolved behind the
      trusted proxies of the context's resolver) and never for a localhost ``Host``.
    * ``Server``, ``X-Powered-By`` and the other leaky headers are removed.
    * Headers the app set win, except those named in ``config.override``; no managed
      header is ever sent twice (several app CSPs are joined into one comma-separated
      field, which browsers enforce the same way).
    * A 304 gets only HSTS: its headers would overwrite the cached response's.

    Args:
        app: The ASGI app to wrap.
        config: The settings; built from ``overrides`` when omitted.
        context: The stack's shared context: its client resolver gives the scheme.
        **overrides: ``SecurityHeadersConfig`` fields, for ``app.add_middleware(...)``.

    Raises:
        ConfigurationError: A value is invalid (the message names the setting).
    """

    def __init__(
        self,
        app: ASGIApp,
        config: SecurityHeadersConfig | None = None,
        *,
        context: LayerContext | None = None,
        **overrides: Any,
    ) -> None:
        if config is None:
            try:
                config = SecurityHeadersConfig(**overrides)
            except ValidationError as exc:
                details = "; ".join(str(error["msg"]).removeprefix("Value error, ") for error in exc.errors())
                raise ConfigurationError(f"invalid security headers settings: {details}") from None
        elif overrides:
            msg = "pass either a SecurityHeadersConfig or keyword settings, not both"
            raise ConfigurationError(msg)
        self.app = app
        self.config = config
        self._resolver = (context or LayerContext()).resolver
        self._profiles: dict[ProfileName, CompiledProfile] = {
            name: compile_profile(config.profile(name), config.reporting, where=f"headers.{name}")
            for name in ("api", "webapp", "docs")
        }
        # Headers whose app value wins over ours (or joins it): the managed ones and any
        # extra header a profile adds.
        self._static_names = {
            kind: frozenset(name for name, _ in profile.static) for kind, profile in self._profiles.items()
        }
        self._tracked = _MANAGED.union(*self._static_names.values())
        self._uses_nonce = any(profile.uses_nonce for profile in self._profiles.values())
        self._hsts = compile_hsts(config.hsts)
        self._remove = frozenset(name.encode("latin-1") for name in config.remove)
        self._override = frozenset(name.encode("latin-1") for name in config.override)
        self._prefixes = sorted(config.path_profiles.items(), key=lambda item: len(item[0]), reverse=True)
        reporting = config.reporting
        self._receiver_path = reporting.receiver_path if reporting.receiver else None
        self._receiver = ReportReceiver(reporting) if reporting.receiver else None
        # What a response gets when the app set none of our headers, per profile (``None``:
        # a 304) and scheme: computed once, appended in one go; ``None`` for a profile whose
        # headers carry the request's nonce.
        self._secure_tails, self._plain_tails = (
            {
                kind: tuple(self._decorate([], set(), kind, secure, None))
                if kind is None or not self._profiles[kind].uses_nonce
                else None
                for kind in (None, *self._profiles)
            }
            for secure in (True, False)
        )

    def _path_profile(self, path: str) -> ProfileName | None:
        """The profile ``path_profiles`` forces for ``path`` (``root_path`` removed), if any."""
        for prefix, name in self._prefixes:
            if prefix == "/" or path == prefix or path.startswith(prefix + "/"):
                return name
        return None

    def _is_secure(self, scope: Scope) -> bool:
        """Whether the response gets HSTS and ``upgrade-insecure-requests``.

        True for HTTPS (the scheme resolved behind trusted proxies) to a host that is not
        this machine; with no Host header the server address counts.
        """
        if self._resolver.scheme(scope) != "https":
            return False
        host = get_header(scope["headers"], b"host")
        if host is None:
            server = scope.get("server")
            return not (server and is_local_host(str(server[0])))
        return not is_local_host(host.decode("latin-1"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce: str | None = None
        if self._uses_nonce:
            # Made for every request: ``request.state.csp_nonce`` is documented, so the
            # value must be there before the app runs, whether or not a page reads it.
            nonce = new_nonce()
            try:  # scope_state() inlined
                scope["state"][CSP_NONCE_STATE_KEY] = nonce
            except (KeyError, TypeError):  # no state, or None
                scope_state(scope)[CSP_NONCE_STATE_KEY] = nonce
        forced: ProfileName | None = None
        if self._prefixes:
            path: str = scope["path"]
            try:  # optional in ASGI; a subscript is cheaper than .get() when it is there
                root: str = scope["root_path"]
            except KeyError:
                root = ""
            if root and path.startswith(root):
                path = path[len(root) :] or "/"
            forced = self._path_profile(path)

        def wrapped(message: Message) -> Awaitable[None]:
            # A plain function returning the awaitable of the next send: no coroutine of ours.
            if message["type"] == "http.response.start":
                self._edit(message, scope, forced, nonce)
            return send(message)

        if self._receiver is not None and scope.get("path") == self._receiver_path:
            await self._receiver(scope, receive, wrapped)
            return
        try:
            await self.app(scope, receive, wrapped)
        except Exception:
            # The error guard outside answers with its own 500: have it carry these headers too.
            add_error_response_editor(scope, lambda message: self._edit(message, scope, forced, nonce))
            raise

    def _edit(self, message: Message, scope: Scope, forced: ProfileName | None, nonce: str | None) -> None:
        """Add this layer's headers to an ``http.response.start`` message (see the class)."""
        secure = self._is_secure(scope)
        # A new list (never edit the app's in place; it may be any iterable, read once).
        headers: list[tuple[bytes, bytes]] = []
        seen: set[bytes] = set()  # the headers of ours the app set
        content_type: bytes | None = None
        remove, tracked = self._remove, self._tracked
        for name, value in message.get("headers") or ():
            lower = name.lower()
            if lower in remove:
                continue
            if lower in tracked:
                if lower in seen:
                    if lower in _CSP_NAMES:
                        # Several policies in one field, comma-separated, mean exactly what
                        # several fields mean (all are enforced), so nothing is duplicated.
                        index = next(i for i, (key, _) in enumerate(headers) if key.lower() == lower)
                        headers[index] = (headers[index][0], headers[index][1] + b", " + value)
                        continue
                    if lower in _MANAGED:  # never sent twice
                        continue
                seen.add(lower)
            elif lower == _CONTENT_TYPE and content_type is None:
                content_type = value
            headers.append((name, value))
        kind = None if message["status"] == 304 else forced or _classify(content_type)
        tail = None if seen else (self._secure_tails if secure else self._plain_tails)[kind]
        if tail is not None:  # the app set none of ours and the profile carries no nonce
            headers.extend(tail)
        else:
            headers = self._decorate(headers, seen, kind, secure, nonce)
        message["headers"] = headers

    def _decorate(
        self,
        headers: list[tuple[bytes, bytes]],
        seen: set[bytes],
        kind: ProfileName | None,
        secure: bool,
        nonce: str | None,
    ) -> list[tuple[bytes, bytes]]:
        """Add the headers of profile ``kind`` (``None``: a 304, which gets HSTS only)."""
        if kind is not None:
            profile = self._profiles[kind]
            source = b"'nonce-" + nonce.encode("ascii") + b"'" if nonce is not None else b""
            if seen:
                for name, value in profile.static:
                    self._put(headers, seen, name, value)
            else:
                headers.extend(profile.static)
                seen.update(self._static_names[kind])
            nonce_sent = False
            for policy in profile.policies:
                if policy.name in seen and policy.name not in self._override:
                    continue
                value = policy.render(source, secure=secure)
                nonce_sent = nonce_sent or len(policy.secure_parts) > 1
                self._put(headers, seen, policy.name, value)
            if nonce_sent:
                headers = self._no_store(headers)
            elif profile.cache_control is not None:
                self._put(headers, seen, _CACHE, profile.cache_control)
        if secure and self._hsts is not None:
            self._put(headers, seen, _HSTS, self._hsts)
        return headers

    def _put(self, headers: list[tuple[bytes, bytes]], seen: set[bytes], name: bytes, value: bytes) -> None:
        if name in seen:
            if name not in self._override:
                return
            headers[:] = [(key, val) for key, val in headers if key.lower() != name]
        seen.add(name)
        headers.append((name, value))

    @staticmethod
    def _no_store(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        kept: list[tuple[bytes, bytes]] = []
        for name, value in headers:
            lower = name.lower()
            if lower in _VALIDATORS:
                continue
            if lower == _CACHE and not (_NO_STORE in value.lower() or b"private" in value.lower()):
                continue
            kept.append((name, value))
        if not any(name.lower() == _CACHE for name, _ in kept):
            kept.append((_CACHE, _NO_STORE))
        return kept
