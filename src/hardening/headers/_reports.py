"""The built-in CSP violation report receiver: size-capped, rate-limited, logs redacted."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, Final

from hardening._asgi import Receive, Scope, Send, get_header
from hardening.headers._config import CSPReportingConfig
from hardening.problems import Problem, problem_type, send_problem
from hardening.redaction import redact_text

__all__ = ("REPORT_CONTENT_TYPES", "ReportReceiver")

logger = logging.getLogger("hardening.csp")

REPORT_CONTENT_TYPES: Final = frozenset({"application/csp-report", "application/reports+json", "application/json"})
"""Content types browsers use for CSP reports (legacy ``report-uri`` and Reporting API)."""

MAX_REPORTS_PER_BODY: Final = 20
"""Reports logged from one request at most (the Reporting API batches them)."""

_FIELD_LIMIT: Final = 256
_FIELDS: Final = (
    ("effective_directive", ("effectiveDirective", "effective-directive", "violated-directive")),
    ("blocked_uri", ("blockedURL", "blocked-uri")),
    ("document_uri", ("documentURL", "document-uri")),
    ("source_file", ("sourceFile", "source-file")),
    ("line_number", ("lineNumber", "line-number")),
    ("disposition", ("disposition",)),
    ("status_code", ("statusCode", "status-code")),
)


def _clean(value: Any) -> str | int | None:
    """Shorten a report field and drop URL queries and fragments, which may carry secrets."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    text = str(value)
    for mark in ("?", "#"):
        text = text.split(mark, 1)[0]
    return redact_text(text[:_FIELD_LIMIT])


def _summaries(payload: Any) -> list[dict[str, str | int | None]]:
    """Extract the interesting fields from a ``csp-report`` or Reporting API body."""
    bodies: list[Mapping[str, Any]] = []
    if isinstance(payload, Mapping) and isinstance(payload.get("csp-report"), Mapping):
        bodies.append(payload["csp-report"])
    elif isinstance(payload, list):
        bodies.extend(
            item["body"]
            for item in payload
            if isinstance(item, Mapping)
            and item.get("type") == "csp-violation"
            and isinstance(item.get("body"), Mapping)
        )
    summaries = []
    for body in bodies[:MAX_REPORTS_PER_BODY]:
        summary: dict[str, str | int | None] = {}
        for field, keys in _FIELDS:
            summary[field] = next((_clean(body[key]) for key in keys if key in body), None)
        summaries.append(summary)
    return summaries


class _TokenBucket:
    """A process-wide token bucket: ``rate`` tokens per minute, bursts up to ``rate``."""

    def __init__(self, per_minute: int) -> None:
        self._capacity = float(per_minute)
        self._refill = per_minute / 60.0
        self._tokens = self._capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._refill)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class ReportReceiver:
    """ASGI endpoint that accepts CSP violation reports and logs a redacted summary.

    Answers 204 when the report was accepted, 405 for methods other than POST, 415 for
    other content types, 413 for bodies over ``max_body_bytes``, 400 for malformed JSON
    and 429 once ``max_reports_per_minute`` is used up (checked before reading the body,
    so a flood costs almost nothing). Dropped reports are counted and the count is logged
    with the next accepted one.
    """

    def __init__(self, config: CSPReportingConfig) -> None:
        self._max_body = config.max_body_bytes
        self._bucket = _TokenBucket(config.max_reports_per_minute)
        self._dropped = 0
        self._lock = threading.Lock()

    def _drop(self, count: int = 1) -> None:
        with self._lock:
            self._dropped += count

    def _take_dropped(self) -> int:
        with self._lock:
            dropped, self._dropped = self._dropped, 0
            return dropped

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = scope.get("headers", ())
        if scope["method"] != "POST":
            problem = Problem(405, detail="CSP reports must be sent with POST.")
            await send_problem(scope, send, problem, headers=[(b"allow", b"POST")])
            return
        if not self._bucket.take():
            self._drop()
            problem = Problem(429, type=problem_type("rate-limited"), detail="Too many CSP reports.")
            await send_problem(scope, send, problem, headers=[(b"retry-after", b"60")])
            return
        content_type = (get_header(headers, b"content-type") or b"").split(b";")[0].strip().lower()
        if content_type.decode("latin-1") not in REPORT_CONTENT_TYPES:
            problem = Problem(415, detail="Expected application/csp-report or application/reports+json.")
            await send_problem(scope, send, problem)
            return
        body = await self._read(receive, get_header(headers, b"content-length"))
        if body is None:
            problem = Problem(413, detail=f"CSP reports are limited to {self._max_body} bytes.")
            await send_problem(scope, send, problem)
            return
        try:
            payload = json.loads(body)
        except ValueError:
            await send_problem(scope, send, Problem(400, detail="The report is not valid JSON."))
            return
        self._log(_summaries(payload))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def _read(self, receive: Receive, declared: bytes | None) -> bytes | None:
        if declared is not None and declared.isdigit() and int(declared) > self._max_body:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b""
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _log(self, summaries: list[dict[str, str | int | None]]) -> None:
        for index, summary in enumerate(summaries):
            if index and not self._bucket.take():
                self._drop(len(summaries) - index)
                return
            dropped = self._take_dropped()
            logger.warning(
                "CSP violation: %s blocked %s on %s",
                summary["effective_directive"],
                summary["blocked_uri"],
                summary["document_uri"],
                extra={"csp_report": summary, "csp_reports_dropped": dropped},
            )
