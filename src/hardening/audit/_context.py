"""State shared by the probes of one audit run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hardening.audit._client import Prober
    from hardening.audit._model import Exchange
    from hardening.audit._stack import Routes

__all__ = ("FOREIGN_HOST", "FOREIGN_ORIGIN", "ProbeContext")

FOREIGN_ORIGIN = "https://audit-probe.invalid"
"""An origin no service should trust (``.invalid`` is reserved, RFC 2606)."""

_FIRST_ERROR: Final = 400

FOREIGN_HOST = "audit-probe.invalid"
"""A ``Host`` no service should answer for."""


@dataclass
class ProbeContext:
    """What the probes share.

    Attributes:
        prober: Sends the requests.
        base_url: Where requests go.
        path: The page graded for headers and used as the default target.
        routes: Known routes (in-process, or from ``/openapi.json``).
        origin: An origin the service is expected to allow, when known.
        burst: Whether the rate-limit burst runs.
        burst_path: Where the burst goes.
        burst_max: The most requests the burst sends.
        baseline: The answer to ``GET path``.
        error_exchanges: Every 4xx/5xx exchange, scanned for tracebacks and fingerprints.
    """

    prober: Prober
    base_url: str
    path: str
    routes: Routes
    origin: str | None = None
    burst: bool = True
    burst_path: str = "/"
    burst_max: int = 200
    baseline: Exchange | None = None
    error_exchanges: list[Exchange] = field(default_factory=list)

    @property
    def https(self) -> bool:
        """Whether the target is probed over HTTPS."""
        return self.base_url.startswith("https://")

    async def get(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        show_body_size: bool = False,
    ) -> Exchange:
        """Send a request through the prober; keep error answers for the leak scans."""
        exchange = await self.prober.send(method, path, headers=headers, content=content, show_body_size=show_body_size)
        if exchange.status is not None and exchange.status >= _FIRST_ERROR:
            self.error_exchanges.append(exchange)
        return exchange
