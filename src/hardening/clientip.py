"""The client's address and scheme, resolved behind trusted proxies. One place for it.

Forwarded headers (``X-Forwarded-For`` / ``X-Forwarded-Proto``, or RFC 7239
``Forwarded``) are believed only when the direct peer (``scope["client"]``) is inside one
of the configured trusted proxy networks. The client is then the **rightmost** address
that is not itself a trusted proxy: every entry to its left was written by the client and
can be forged, every entry to its right was written by a proxy we trust.

Addresses are normalised: ports are stripped (``1.2.3.4:5678``, ``[2001:db8::1]:443``),
IPv4-mapped IPv6 addresses (``::ffff:1.2.3.4``) become plain IPv4, and IPv6 is written in
its compressed form. For rate-limit keys, :func:`group_address` groups IPv6 addresses by
a prefix (``/64`` by default), because one user commonly owns a whole ``/64``.
"""

from __future__ import annotations

import ipaddress
import logging
from functools import lru_cache
from operator import itemgetter
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, field_validator
from starlette.types import Scope

from hardening._asgi import CLIENT_IP_STATE_KEY, SCHEME_STATE_KEY, scope_state
from hardening._forwarded import forwarded_from_right

__all__ = ("ClientResolver", "ProxyConfig", "group_address", "normalize_address", "parse_forwarded")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_XFF: Final = b"x-forwarded-for"
_XFP: Final = b"x-forwarded-proto"
_FORWARDED: Final = b"forwarded"
_FORWARDING_HEADERS: Final = frozenset({_XFF, _FORWARDED})
_NAME: Final = itemgetter(0)  # of a header pair
_UNIX: Final = "unix"
_MAX_HOPS: Final = 64
_logger = logging.getLogger("hardening.clientip")


class ProxyConfig(BaseModel):
    """Which proxies are trusted to tell the client's address and scheme."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    trusted_proxies: tuple[str, ...] = ()
    """Networks (CIDR) or addresses of proxies whose forwarded headers are believed, for
    example ``("10.0.0.0/8", "127.0.0.1")``. ``"unix"`` trusts peers on a UNIX socket (no
    client address). Empty (the default) means forwarded headers are ignored."""

    forwarded_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"
    """Which header the trusted proxies write: ``x-forwarded-for`` (with
    ``X-Forwarded-Proto``; nginx, most load balancers) or RFC 7239 ``forwarded``. Only
    the configured one is read, so a client cannot smuggle in the other."""

    @field_validator("trusted_proxies")
    @classmethod
    def _check_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if item == _UNIX:
                continue
            if item.strip() == "*":
                msg = (
                    "'*' would trust every peer, so any client could choose its own address. "
                    "List your proxies' networks instead, or "
                    "write '0.0.0.0/0' and '::/0' if every peer really is a proxy you run"
                )
                raise ValueError(msg)
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                msg = f"{item!r} is not an IP address or CIDR network, for example '10.0.0.0/8'"
                raise ValueError(msg) from None
        return value


def _parse_ip(text: str) -> IPAddress | None:
    """Parse one address as proxies write it, with or without a port; ``None`` if invalid."""
    text = text.strip().strip('"').strip()
    if not text:
        return None
    if text.startswith("["):  # [v6] or [v6]:port
        end = text.find("]")
        if end == -1:
            return None
        text = text[1:end]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.scope_id is not None:
            return ipaddress.IPv6Address(text.partition("%")[0])
    return ip


def normalize_address(address: str) -> str | None:
    """Return ``address`` without port, IPv4-mapped IPv6 as IPv4, or ``None`` if invalid.

    >>> normalize_address("::ffff:192.0.2.1")
    '192.0.2.1'
    >>> normalize_address("[2001:DB8::1]:443")
    '2001:db8::1'
    """
    ip = _parse_ip(address)
    return None if ip is None else str(ip)


_PEERS_MAX: Final = 8192
_peers: dict[object, str] = {}
"""A direct peer's host -> its normalised address (or its text when it is no address).

The one cache of that mapping: a server sees the same peers again and again, parsing an
address costs more than the rest of the lookup, and a plain dict read with ``[]`` is
cheaper per request than an ``lru_cache`` call. It is emptied when full."""


def _peer_address(host: Any) -> str:
    """The normalised address of a direct peer, or its text when it is no address."""
    peer = normalize_address(host)
    if peer is None:
        peer = str(host)  # e.g. a test client name; never trusted
    if len(_peers) >= _PEERS_MAX:
        _peers.clear()
    _peers[host] = peer
    return peer


def _peer(scope: Scope) -> str | None:
    """The direct peer of a request, normalised; ``None`` without one (a UNIX socket)."""
    client = scope.get("client")
    if not client:
        return None
    host = client[0]
    try:
        return _peers[host]
    except KeyError:
        return _peer_address(host)


_SCAN_FIRST: Final = 64
_SCAN_EVERY: Final = 64


def group_address(address: str, ipv6_prefix: int = 64) -> str:
    """Return the rate-limit group of a normalised address.

    IPv4 addresses stand for themselves. IPv6 addresses are grouped by their first
    ``ipv6_prefix`` bits, written as a network (``2001:db8:1:2::/64``), because one user
    usually controls a whole ``/64`` (or ``/56``) and could otherwise rotate addresses to
    escape a limit. IPv4-mapped IPv6 addresses are treated as the IPv4 address they carry.
    Text that is not an address is returned unchanged.

    Args:
        address: An address, as :meth:`ClientResolver.client_ip` returns it.
        ipv6_prefix: The IPv6 prefix length, 1 to 128.
    """
    ip = _parse_ip(address)
    if ip is None:
        return address
    if isinstance(ip, ipaddress.IPv4Address) or ipv6_prefix >= 128:
        return str(ip)
    return str(ipaddress.IPv6Network((ip, ipv6_prefix), strict=False))


def parse_forwarded(value: str) -> list[dict[str, str]]:
    """Parse an RFC 7239 ``Forwarded`` header into one dict per hop, leftmost first.

    Parameter names are lower-cased; quoted values are unquoted. The value is read from
    the right, as far as it is valid syntax: a malformed part (which only a client can
    have written, left of the hops its proxies appended) becomes one empty hop, ``{}``.
    Never raises.

    >>> parse_forwarded('for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"')
    [{'for': '192.0.2.60', 'proto': 'https'}, {'for': '[2001:db8::1]:4711'}]
    >>> parse_forwarded('for=6.6.6.6;x=", for=203.0.113.7')
    [{}, {'for': '203.0.113.7'}]
    """
    elements, rest = forwarded_from_right(value, len(value) + 1)
    if rest:
        elements.append({})
    return elements[::-1]


class ClientResolver:
    """Resolve the client address and scheme of a request, per a :class:`ProxyConfig`.

    Args:
        config: The trusted proxies; ``None`` trusts no proxy (forwarded headers are
            ignored and the direct peer is the client).
    """

    def __init__(self, config: ProxyConfig | None = None) -> None:
        config = config or ProxyConfig()
        self._trust_unix = _UNIX in config.trusted_proxies
        self._networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(item, strict=False) for item in config.trusted_proxies if item != _UNIX
        )
        self._use_forwarded = config.forwarded_header == "forwarded"
        self._any_trust = bool(self._networks) or self._trust_unix
        self._trusted = lru_cache(maxsize=4096)(self._is_trusted_uncached)
        self._warned = False
        self._scans = 0
        self._unscanned = 0  # requests to let pass before the next look for forwarding headers

    def _is_trusted_uncached(self, address: str) -> bool:
        ip = _parse_ip(address)
        return ip is not None and any(ip in network for network in self._networks)

    def _peer_trusted(self, peer: str | None) -> bool:
        if peer is None:
            return self._trust_unix
        return bool(self._networks) and self._trusted(peer)

    def _scan_forwarding(self, scope: Scope) -> None:
        """Warn (once) when a request carries forwarding headers but no proxy is trusted.

        This only serves a one-time warning, so it is sampled: the first
        ``_SCAN_FIRST`` requests are looked at, then one in ``_SCAN_EVERY``. Behind a
        proxy every request carries the header, so the warning still comes at once.
        """
        self._scans += 1
        if self._scans >= _SCAN_FIRST:
            self._unscanned = _SCAN_EVERY - 1
        if not _FORWARDING_HEADERS.isdisjoint(map(_NAME, scope.get("headers", ()))):
            self._warn_untrusted_forwarding()

    def _warn_untrusted_forwarding(self) -> None:
        self._warned = True
        _logger.warning(
            "proxy.forwarded_header_ignored: a request carries X-Forwarded-For or Forwarded "
            "but no proxy is trusted, so every client behind that proxy shares its address. "
            "If the app runs behind a proxy, set HARDENING_PROXY__TRUSTED_PROXIES to its "
            "networks (logged once)."
        )

    def _hops(self, scope: Scope) -> list[str]:
        """The rightmost ``_MAX_HOPS`` hops of every field line of the header, rightmost first.

        All field lines count, in order, as one comma-joined list (RFC 9110 §5.3): a proxy
        may append its own line. The list is cut on the left, never the right: the right
        end is what the trusted proxies wrote. A ``Forwarded`` part that is no valid
        syntax ends the list as one hop that is no address.
        """
        name = _FORWARDED if self._use_forwarded else _XFF
        joined = b",".join([value for key, value in scope.get("headers", ()) if key == name])
        if self._use_forwarded:
            elements, rest = forwarded_from_right(joined.decode("latin-1"), _MAX_HOPS)
            hops = [element.get("for", "") for element in elements]
            if rest and len(hops) < _MAX_HOPS:
                hops.append("")
            return hops
        if not joined:
            return []
        return [hop.decode("latin-1") for hop in reversed(joined.rsplit(b",", _MAX_HOPS)[-_MAX_HOPS:])]

    def peer_trusted(self, scope: Scope) -> bool:
        """Whether the direct peer of a request is a trusted proxy (``"unix"``: no address)."""
        return self._peer_trusted(_peer(scope))

    def client_ip(self, scope: Scope) -> str | None:
        """Return the client's normalised address, or ``None`` when nobody gave one.

        ``None`` happens when the server sets no ``scope["client"]`` (a UNIX socket) and
        no trusted proxy said who the client is. The answer is kept in the request's
        ``scope["state"]``, so every layer sharing this resolver gets it for free.
        """
        if not self._any_trust:  # the peer is the client: a dict read, nothing to keep
            if self._unscanned:  # the look for forwarding headers is sampled
                self._unscanned -= 1
            elif not self._warned:
                self._scan_forwarding(scope)
            return _peer(scope)
        state = scope_state(scope)
        known = state.get(CLIENT_IP_STATE_KEY)
        if known is not None and known[0] is self:
            kept: str | None = known[1]
            return kept
        ip = self._client_ip(scope)
        state[CLIENT_IP_STATE_KEY] = (self, ip)
        return ip

    def _client_ip(self, scope: Scope) -> str | None:
        peer = _peer(scope)
        if not self._peer_trusted(peer):
            return peer
        hops = self._hops(scope)
        if not hops:
            return peer
        for hop in hops:
            ip = _parse_ip(hop)
            if ip is None:
                # The rightmost untrusted entry was written by a trusted proxy; if it is
                # not an address ("unknown", an obfuscated name) nobody knows the client.
                return peer
            text = str(ip)
            if not self._trusted(text):
                return text
        # Every hop examined is a trusted proxy: the leftmost of them is the client.
        return str(_parse_ip(hops[-1]))

    def scheme(self, scope: Scope) -> str:
        """Return ``http`` or ``https`` as the client used it (``ws``/``wss`` likewise).

        Like :meth:`client_ip`, the answer is kept in the request's ``scope["state"]``.
        """
        scheme: str
        if not self._any_trust:
            scheme = scope.get("scheme", "http")
            return scheme
        state = scope_state(scope)
        known = state.get(SCHEME_STATE_KEY)
        if known is not None and known[0] is self:
            scheme = known[1]
            return scheme
        scheme = self._scheme(scope)
        state[SCHEME_STATE_KEY] = (self, scheme)
        return scheme

    def _scheme(self, scope: Scope) -> str:
        scheme: str = scope.get("scheme", "http")
        if not self._peer_trusted(_peer(scope)):
            return scheme
        name = _FORWARDED if self._use_forwarded else _XFP
        joined = b",".join([value for key, value in scope.get("headers", ()) if key == name])
        value: str | None = None
        if self._use_forwarded:
            elements = forwarded_from_right(joined.decode("latin-1"), 1)[0]
            value = elements[0].get("proto") if elements else None
        elif joined:
            value = joined.rsplit(b",", 1)[-1].decode("latin-1")
        if value:
            value = value.strip().lower()
            if value in ("http", "https"):
                if scope.get("type") == "websocket":
                    return "wss" if value == "https" else "ws"
                return value
        return scheme
