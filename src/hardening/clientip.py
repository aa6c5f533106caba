"""The client's address and scheme, resolved behind trusted proxies. One place for it.

``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``Forwarded`` are believed only when the
direct peer (``scope["client"]``) is inside one of the configured trusted proxy networks;
the client is then the rightmost address that is not itself a trusted proxy.

PRELIMINARY: the rate-limiting issue completes this module (IPv6 prefix grouping,
``Forwarded`` parsing, property tests). The public names below are stable.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Final

from pydantic import BaseModel, ConfigDict, field_validator
from starlette.types import Scope

from hardening._asgi import get_header

__all__ = ("ClientResolver", "ProxyConfig")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_XFF: Final = b"x-forwarded-for"
_XFP: Final = b"x-forwarded-proto"


class ProxyConfig(BaseModel):
    """Which proxies are trusted to tell the client's address and scheme."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    trusted_proxies: tuple[str, ...] = ()
    """Networks (CIDR) or addresses of proxies whose forwarded headers are believed.
    Empty (the default) means forwarded headers are ignored."""

    @field_validator("trusted_proxies")
    @classmethod
    def _check_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                msg = f"{item!r} is not an IP address or CIDR network, for example '10.0.0.0/8'"
                raise ValueError(msg) from None
        return value


class ClientResolver:
    """Resolve the client address and scheme of a request, per a :class:`ProxyConfig`."""

    def __init__(self, config: ProxyConfig | None = None) -> None:
        config = config or ProxyConfig()
        self._networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(item, strict=False) for item in config.trusted_proxies
        )
        self._trusted = lru_cache(maxsize=4096)(self._is_trusted_uncached)

    def _is_trusted_uncached(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def client_ip(self, scope: Scope) -> str | None:
        """Return the client's address, or ``None`` when the server gave none."""
        client = scope.get("client")
        peer = client[0] if client else None
        if peer is None or not self._networks or not self._trusted(peer):
            return peer
        header = get_header(scope.get("headers", ()), _XFF)
        if header is None:
            return peer
        for hop in reversed(header.decode("latin-1").split(",")):
            hop = hop.strip()
            if hop and not self._trusted(hop):
                return hop
        return peer

    def scheme(self, scope: Scope) -> str:
        """Return ``http`` or ``https`` as the client used it."""
        scheme: str = scope.get("scheme", "http")
        client = scope.get("client")
        if client and self._networks and self._trusted(client[0]):
            proto = get_header(scope.get("headers", ()), _XFP)
            if proto:
                value = proto.decode("latin-1").split(",")[0].strip().lower()
                if value in ("http", "https"):
                    return value
        return scheme
