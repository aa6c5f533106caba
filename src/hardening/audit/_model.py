"""What an audit produces: exchanges (evidence), findings and the report."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

from hardening.audit._catalog import CATALOG, Category, CheckSpec, Priority
from hardening.errors import HardeningError

__all__ = ("FAIL_LEVELS", "AuditError", "AuditFinding", "AuditReport", "Exchange", "FailLevel", "Status")

Status = Literal["pass", "warn", "fail", "skip"]
"""``pass``; ``warn`` (present but weak); ``fail`` (missing or unsafe); ``skip`` (not tested)."""

FailLevel = Literal["p0", "p1", "p2"]
"""The lowest priority that fails the audit: ``p1`` fails on P0 and P1 findings."""

FAIL_LEVELS: Final[dict[str, int]] = {"p0": 0, "p1": 1, "p2": 2}
"""Fail levels ranked like priorities (``P0`` is 0)."""

_BODY_EXCERPT: Final = 300


class AuditError(HardeningError):
    """The audit could not run: bad target, import failure, lifespan failure, no answer."""


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request the audit sent and what came back, already redacted.

    Attributes:
        method: The request method.
        path: The request target (path and query).
        request_headers: The headers the audit set on purpose (``Host``, ``Origin``, ...).
        status: The response status, or ``None`` when no response arrived.
        reason: The reason phrase, or what went wrong (``timed out after 5.0 s``).
        response_headers: Every response header, in order, sensitive values redacted.
        body: The start of the response body, redacted.
        elapsed_ms: How long the answer took, in milliseconds.
        repeat: How many identical requests this exchange stands for (bursts).
    """

    method: str
    path: str
    request_headers: tuple[tuple[str, str], ...] = ()
    status: int | None = None
    reason: str = ""
    response_headers: tuple[tuple[str, str], ...] = ()
    body: str = ""
    elapsed_ms: float = 0.0
    repeat: int = 1

    def header(self, name: str) -> str | None:
        """Return the first response header ``name`` (case-insensitive), or ``None``."""
        wanted = name.lower()
        return next((value for key, value in self.response_headers if key == wanted), None)

    @property
    def content_type(self) -> str:
        """The response media type, lower-case, without parameters."""
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def text(self) -> str:
        """Render like an HTTP transcript: request line, headers, status, headers, body."""
        lines = [f"{self.method} {self.path} HTTP/1.1" + (f"  (x{self.repeat})" if self.repeat > 1 else "")]
        lines += [f"{name}: {value}" for name, value in self.request_headers]
        if self.status is None:
            lines.append(f"-> no response ({self.reason})")
        else:
            lines.append(f"-> {self.status} {self.reason}".rstrip() + f"  ({self.elapsed_ms:.0f} ms)")
            lines += [f"{name}: {value}" for name, value in self.response_headers]
            if self.body:
                excerpt = self.body if len(self.body) <= _BODY_EXCERPT else self.body[:_BODY_EXCERPT] + "..."
                lines += ["", excerpt]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class AuditFinding:
    """The outcome of one check.

    Attributes:
        id: The stable check ID (``AUD-HDR-003``), or a production rule's ID
            (``HARDENING-HOST-001``) for checks run on the settings.
        priority: ``P0``, ``P1`` or ``P2``.
        category: The risk-table row.
        title: What the check wants to see.
        status: ``pass``, ``warn``, ``fail`` or ``skip``.
        observed: What the audit saw, in one or two sentences.
        impact: What goes wrong when the check fails.
        fix: How to fix it (the ``hardening`` setting and its environment variable).
        guide: The docs page for the fix.
        evidence: The exchanges that show it.
        details: Evidence that is not an HTTP exchange (settings problems), one line each.
    """

    id: str
    priority: Priority
    category: Category
    title: str
    status: Status
    observed: str
    impact: str = ""
    fix: str = ""
    guide: str = ""
    evidence: tuple[Exchange, ...] = ()
    details: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        check_id: str,
        status: Status,
        observed: str,
        evidence: Iterable[Exchange] = (),
        *,
        details: Iterable[str] = (),
    ) -> AuditFinding:
        """Build the finding of catalogue check ``check_id``."""
        item: CheckSpec = CATALOG[check_id]
        return cls(
            id=item.id,
            priority=item.priority,
            category=item.category,
            title=item.title,
            status=status,
            observed=observed,
            impact=item.impact,
            fix=item.fix,
            guide=item.guide,
            evidence=tuple(evidence),
            details=tuple(details),
        )

    @property
    def is_problem(self) -> bool:
        """Whether this finding is a problem (``warn`` or ``fail``)."""
        return self.status in ("warn", "fail")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        data = asdict(self)
        data["evidence"] = [
            {**asdict(exchange), "request_headers": dict(exchange.request_headers)} for exchange in self.evidence
        ]
        for item in data["evidence"]:
            item["response_headers"] = [list(pair) for pair in item["response_headers"]]
        return data


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Everything one audit found.

    Attributes:
        target: What was audited (a URL, or ``MODULE:APP``), redacted.
        mode: ``in-process`` or ``url``.
        base_url: The URL requests were sent to (``https://testserver`` in-process).
        generated: When the audit ran (ISO 8601, UTC).
        findings: One finding per check, in probe order.
        layers: The ``hardening`` layers found in the stack (in-process only).
        notes: Remarks about the run (lifespan not supported, settings environment, ...).
        version: The ``hardening`` version that ran the audit.
    """

    target: str
    mode: Literal["in-process", "url"]
    base_url: str
    generated: str
    findings: tuple[AuditFinding, ...]
    layers: tuple[str, ...] | None = None
    notes: tuple[str, ...] = ()
    version: str = ""

    def __getitem__(self, check_id: str) -> AuditFinding:
        """Return the finding of ``check_id`` (``KeyError`` when it did not run)."""
        for finding in self.findings:
            if finding.id == check_id:
                return finding
        raise KeyError(check_id)

    @property
    def problems(self) -> tuple[AuditFinding, ...]:
        """The ``warn`` and ``fail`` findings, most urgent first."""
        return tuple(sorted((f for f in self.findings if f.is_problem), key=lambda f: (f.priority, f.id)))

    @property
    def passed(self) -> tuple[AuditFinding, ...]:
        """The checks that passed."""
        return tuple(f for f in self.findings if f.status == "pass")

    @property
    def skipped(self) -> tuple[AuditFinding, ...]:
        """The checks that could not be run."""
        return tuple(f for f in self.findings if f.status == "skip")

    def problem_ids(self, priority: Priority | None = None) -> set[str]:
        """Return the IDs of the problems (of one priority, if given)."""
        return {f.id for f in self.problems if priority is None or f.priority == priority}

    def failures(self, fail_level: FailLevel = "p1") -> tuple[AuditFinding, ...]:
        """Return the problems at or above ``fail_level`` (``p1``: P0 and P1)."""
        limit = FAIL_LEVELS[fail_level]
        return tuple(f for f in self.problems if int(f.priority[1]) <= limit)

    def failed(self, fail_level: FailLevel = "p1") -> bool:
        """Whether any problem is at or above ``fail_level``."""
        return bool(self.failures(fail_level))

    def exit_code(self, fail_level: FailLevel = "p1") -> int:
        """``1`` when :meth:`failed`, else ``0``."""
        return 1 if self.failed(fail_level) else 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        counts = {p: sum(1 for f in self.problems if f.priority == p) for p in ("P0", "P1", "P2")}
        return {
            "tool": "hardening audit",
            "version": self.version,
            "target": self.target,
            "mode": self.mode,
            "base_url": self.base_url,
            "generated": self.generated,
            "summary": {
                "problems": counts,
                "passed": len(self.passed),
                "skipped": len(self.skipped),
            },
            "not_tested": [{"id": f.id, "reason": f.observed} for f in self.skipped],
            "layers": list(self.layers) if self.layers is not None else None,
            "notes": list(self.notes),
            "findings": [finding.to_dict() for finding in self.findings],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """Render as JSON."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
