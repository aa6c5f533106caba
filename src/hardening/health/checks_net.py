"""Network checks: Redis ``PING`` (``redis.asyncio``) and an HTTP dependency.

The HTTP check speaks HTTP/1.1 over ``asyncio`` streams itself (TLS through ``ssl``),
so it needs no extra package; it follows no redirect and reads only the status line.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

from hardening._imports import require
from hardening.health.result import CheckResult
from hardening.redaction import redact_url

__all__ = ("HTTPCheck", "RedisCheck")


class RedisCheck:
    """``PING`` a Redis server through ``redis.asyncio``.

    Pass either a URL (a client is created on first use and closed at shutdown) or an
    existing ``redis.asyncio.Redis`` client (left open: it is the app's).

    Args:
        target: ``redis://[:password@]host:port/db`` or a ``redis.asyncio.Redis``.
        socket_timeout: Seconds for connecting and for the reply.
    """

    component_type = "datastore"

    def __init__(self, target: str | Any, *, socket_timeout: float = 2.0) -> None:
        self._url = target if isinstance(target, str) else None
        self._client: Any = None if isinstance(target, str) else target
        self._owned = isinstance(target, str)
        self.socket_timeout = socket_timeout

    def _get_client(self) -> Any:
        if self._client is None:
            redis_asyncio = require("redis.asyncio", extra="health", feature="the Redis health check", package="redis")
            self._client = redis_asyncio.Redis.from_url(
                self._url,
                socket_connect_timeout=self.socket_timeout,
                socket_timeout=self.socket_timeout,
                retry_on_timeout=False,
                single_connection_client=False,
            )
        return self._client

    async def __call__(self) -> CheckResult:
        """Run the check; raises when the server cannot be reached."""
        client = self._get_client()
        started = time.perf_counter()
        reply = await client.ping()
        elapsed = round((time.perf_counter() - started) * 1000, 3)
        if not reply:
            return CheckResult.failed("PING got no PONG", elapsed, "ms")
        return CheckResult.passed(elapsed, "ms")

    async def aclose(self) -> None:
        """Close the client this check created (not one it was given)."""
        if self._owned and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def __repr__(self) -> str:
        return f"RedisCheck({redact_url(self._url) if self._url else type(self._client).__name__!r})"


class HTTPCheck:
    """``GET`` an HTTP(S) dependency (an ERP API, an AI provider's status URL).

    Passes when the status code is in ``expected_status``. A status outside it fails;
    a status in ``warn_status`` (default: 429) warns. Only the status line is read.

    Args:
        url: ``http://`` or ``https://`` URL (credentials in it are never shown).
        expected_status: Status codes counted as healthy.
        warn_status: Status codes counted as "healthy with concerns".
        headers: Extra request headers (for example an API key; never shown).
        ssl_context: TLS context for ``https`` (the default verifies certificates).
    """

    component_type = "component"

    def __init__(
        self,
        url: str,
        *,
        expected_status: tuple[int, ...] = (200, 204),
        warn_status: tuple[int, ...] = (429,),
        headers: dict[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            msg = f"HTTP health check needs an http:// or https:// URL, got {redact_url(url)!r}"
            raise ValueError(msg)
        self._url = url
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._tls = parts.scheme == "https"
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.expected_status = expected_status
        self.warn_status = warn_status
        self._headers = dict(headers or {})
        self._ssl = ssl_context

    def _request(self) -> bytes:
        host = self._host if ":" not in self._host else f"[{self._host}]"
        default_port = 443 if self._tls else 80
        authority = host if self._port == default_port else f"{host}:{self._port}"
        lines = [f"GET {self._target} HTTP/1.1", f"Host: {authority}", "User-Agent: hardening-health", "Accept: */*"]
        lines.extend(f"{name}: {value}" for name, value in self._headers.items())
        lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def __call__(self) -> CheckResult:
        """Run the check; raises when the server cannot be reached."""
        context: ssl.SSLContext | None = None
        if self._tls:
            context = self._ssl or ssl.create_default_context()
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection(self._host, self._port, ssl=context)
        try:
            writer.write(self._request())
            await writer.drain()
            status_line = await reader.readline()
        finally:
            writer.close()
        elapsed = round((time.perf_counter() - started) * 1000, 3)
        parts = status_line.split(maxsplit=2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            return CheckResult.failed("not an HTTP response", elapsed, "ms")
        status = int(parts[1])
        if status in self.expected_status:
            return CheckResult.passed(elapsed, "ms")
        if status in self.warn_status:
            return CheckResult.warned(f"HTTP {status}", elapsed, "ms")
        return CheckResult.failed(f"HTTP {status}, expected {list(self.expected_status)}", elapsed, "ms")

    def __repr__(self) -> str:
        return f"HTTPCheck({redact_url(self._url)!r})"
