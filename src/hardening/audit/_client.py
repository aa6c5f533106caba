"""The prober: sends one request, records it as redacted :class:`Exchange` evidence."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

import anyio

from hardening.audit._model import AuditError, Exchange
from hardening.redaction import redact, redact_text

if TYPE_CHECKING:
    import httpx

__all__ = ("BODY_KEPT", "Prober", "TargetUnreachableError")

BODY_KEPT: Final = 4000
"""Characters of each response body kept for analysis (the report shows fewer)."""

_PUBLIC_HEADERS: Final = frozenset({"access-control-allow-credentials", "access-control-allow-headers"})
"""Headers whose names look sensitive to the redaction policy but carry no secret."""


class TargetUnreachableError(AuditError):
    """The target did not answer at all (connection refused, DNS, TLS)."""


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _pairs(headers: Any) -> tuple[tuple[str, str], ...]:
    pairs = [(name.lower(), value) for name, value in headers.multi_items()]
    cleaned: list[tuple[str, str]] = redact(pairs)
    return tuple(
        (name, redact_text(original if name in _PUBLIC_HEADERS else str(value)))
        for (name, original), (_, value) in zip(pairs, cleaned, strict=True)
    )


def _body(response: httpx.Response) -> str:
    """Return the start of the body, redacted (JSON bodies key by key)."""
    if not response.content:
        return ""
    text = response.text[:BODY_KEPT]
    if "json" in response.headers.get("content-type", "") and len(response.content) <= BODY_KEPT:
        try:
            return redact_text(json.dumps(redact(json.loads(response.content)), ensure_ascii=False))
        except ValueError:
            pass
    return redact_text(text)


class Prober:
    """Sends the audit's requests through one ``httpx.AsyncClient``.

    Args:
        client: The client (ASGI transport in-process, network otherwise).
        timeout: Seconds one request may take before it counts as unanswered.
    """

    def __init__(self, client: httpx.AsyncClient, *, timeout: float = 5.0) -> None:
        self.client = client
        self.timeout = timeout
        self.host = client.base_url.netloc.decode("ascii")
        self.exchanges: list[Exchange] = []

    async def send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        show_body_size: bool = False,
    ) -> Exchange:
        """Send one request and return the redacted exchange (never raises for HTTP errors)."""
        import httpx

        sent = {"Host": self.host, **(headers or {})}
        shown = [(name, value) for name, value in sent.items()]
        if content is not None and show_body_size:
            shown.append(("Content-Length", str(len(content))))
        request_headers = tuple((str(name), redact_text(str(value))) for name, value in redact(shown))
        started = time.perf_counter()
        try:
            with anyio.fail_after(self.timeout):
                response = await self.client.request(method, path, headers=dict(headers or {}), content=content)
        except TimeoutError:
            exchange = Exchange(method, path, request_headers, None, f"timed out after {self.timeout:g} s")
        except httpx.TransportError as exc:
            exchange = Exchange(method, path, request_headers, None, type(exc).__name__)
        else:
            elapsed = (time.perf_counter() - started) * 1000
            body = _body(response)
            exchange = Exchange(
                method,
                path,
                request_headers,
                response.status_code,
                _reason(response.status_code),
                _pairs(response.headers),
                body,
                elapsed,
            )
        self.exchanges.append(exchange)
        return exchange
