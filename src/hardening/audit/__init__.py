"""``hardening audit``: probe any ASGI service and report what production still needs.

Works on apps that do not use ``hardening`` at all. In-process (an ASGI app object or
``MODULE:APP``) the app's lifespan runs and requests go through ``httpx.ASGITransport``,
without any network; a URL target is probed over the network. Every check has a stable
ID (``AUD-HDR-003``), a priority (``P0`` blocker, ``P1`` critical, ``P2`` important),
redacted evidence and a fix naming the ``hardening`` setting::

    from hardening.audit import audit

    report = audit(app, settings=settings)
    print(report.problem_ids())

Needs ``httpx`` (the ``audit`` extra), imported only when an audit runs.
"""

from __future__ import annotations

from hardening.audit._catalog import CATALOG, CheckSpec, Priority
from hardening.audit._client import TargetUnreachableError
from hardening.audit._lifespan import LifespanError
from hardening.audit._model import AuditError, AuditFinding, AuditReport, Exchange, FailLevel, Status
from hardening.audit._render import render, render_json, render_markdown, render_text
from hardening.audit._runner import audit, load_app, run_audit

__all__ = (
    "CATALOG",
    "AuditError",
    "AuditFinding",
    "AuditReport",
    "CheckSpec",
    "Exchange",
    "FailLevel",
    "LifespanError",
    "Priority",
    "Status",
    "TargetUnreachableError",
    "audit",
    "load_app",
    "render",
    "render_json",
    "render_markdown",
    "render_text",
    "run_audit",
)
