"""Render an :class:`AuditReport`: terminal summary, Markdown (gap-report shape), JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from hardening.audit._catalog import CATEGORIES
from hardening.redaction import redact_text

if TYPE_CHECKING:
    from hardening.audit._model import AuditFinding, AuditReport, FailLevel

__all__ = ("render", "render_json", "render_markdown", "render_text")

_ICON: Final = {"pass": "✅", "warn": "⚠️", "fail": "❌", "skip": "⏭️"}
_SECTIONS: Final = (
    ("P0", "🚨 Priority 0 (BLOCKERS - Must Fix Before Launch)"),
    ("P1", "⚠️ Priority 1 (CRITICAL - Fix Before Public Launch)"),
    ("P2", "📋 Priority 2 (IMPORTANT - Fix Within 2 Weeks Post-Launch)"),
)
_RISK: Final = {"P0": "Critical", "P1": "High", "P2": "Medium"}
_MAX_EVIDENCE: Final = 2


def _counts(report: AuditReport) -> str:
    counts = {p: sum(1 for f in report.problems if f.priority == p) for p in ("P0", "P1", "P2")}
    return ", ".join(f"{p}: {n}" for p, n in counts.items())


def _verdict(report: AuditReport, fail_level: FailLevel) -> str:
    failures = report.failures(fail_level)
    level = fail_level.upper()
    if failures:
        return f"❌ FAIL at fail level {level}: {len(failures)} finding(s) at {level} or above"
    return f"✅ PASS at fail level {level}"


def render_text(report: AuditReport, fail_level: FailLevel = "p1") -> str:
    """Render the terminal summary: one line per problem, then the verdict."""
    lines = [f"hardening audit {report.version}: {report.target} ({report.mode}, {report.base_url})"]
    for finding in report.problems:
        lines.append(f"  {_ICON[finding.status]} {finding.priority} {finding.id:<18} {finding.title}")
        lines.extend(f"       {text}" for text in (finding.observed, *finding.details) if text.strip())
        if finding.fix.strip():
            lines.append(f"       fix: {finding.fix}")
    for reason, ids in _not_tested(report).items():
        lines.append(f"  {_ICON['skip']} not tested: {', '.join(ids)}: {reason}")
    if report.layers is not None:
        lines.append("  hardening layers: " + (", ".join(report.layers) or "none"))
    lines.extend(f"  note: {note}" for note in report.notes)
    lines.append(
        f"{len(report.problems)} problem(s) ({_counts(report)}), {len(report.passed)} passed, "
        f"{len(report.skipped)} not tested."
    )
    lines.append(_verdict(report, fail_level))
    return redact_text("\n".join(lines))


def _not_tested(report: AuditReport) -> dict[str, list[str]]:
    """The IDs not tested, grouped by their reason (one line per reason)."""
    groups: dict[str, list[str]] = {}
    for finding in report.skipped:
        groups.setdefault(finding.observed.strip() or "no reason given", []).append(finding.id)
    return groups


def _finding_md(finding: AuditFinding, index: int) -> list[str]:
    lines = [
        f"### {finding.priority}-{index}: {finding.title} (`{finding.id}`)",
        f"**Status**: {_ICON[finding.status]} {finding.observed}  ",
    ]
    if finding.impact:
        lines.append(f"**Impact**: {finding.impact}  ")
    lines.append(f"**Risk**: {_RISK[finding.priority]} - {finding.category}  ")
    lines.append(f"**Fix**: {finding.fix}" + (f" (guide: `{finding.guide}`)" if finding.guide else ""))
    evidence = [exchange.text() for exchange in finding.evidence[:_MAX_EVIDENCE]] + list(finding.details)
    if evidence:
        lines += ["", "<details><summary>Evidence</summary>", "", "```http", *evidence, "```", "", "</details>"]
    lines.append("")
    return lines


def _risk_rows(report: AuditReport) -> list[str]:
    rows = ["| Category | Risk Level | Impact |", "|----------|-----------|---------|"]
    for category in CATEGORIES:
        problems = [f for f in report.problems if f.category == category]
        checked = [f for f in report.findings if f.category == category and f.status != "skip"]
        if not checked:
            level, impact = "⚪ NOT TESTED", "-"
        elif any(f.priority in ("P0", "P1") for f in problems):
            level, impact = "🔴 HIGH", ", ".join(f.id for f in problems)
        elif problems:
            level, impact = "🟡 MEDIUM", ", ".join(f.id for f in problems)
        else:
            level, impact = "🟢 LOW", f"{len(checked)} check(s) passed"
        rows.append(f"| **{category}** | {level} | {impact} |")
    return rows


def render_markdown(report: AuditReport, fail_level: FailLevel = "p1") -> str:
    """Render the report shaped like the production-readiness gap report."""
    lines = [
        "# 🎯 Production Readiness Audit",
        "",
        f"**Generated**: {report.generated} by `hardening audit` {report.version}  ",
        f"**Target**: `{report.target}` ({report.mode}, {report.base_url})  ",
        f"**Result**: {_verdict(report, fail_level)}  ",
        f"**Findings**: {len(report.problems)} ({_counts(report)}) · {len(report.passed)} passed · "
        f"{len(report.skipped)} not tested",
        "",
        "---",
        "",
        "## 📊 Current State Assessment",
        "",
        "### ✅ What's Working",
    ]
    lines += [f"- **{f.title}** (`{f.id}`): {f.observed}" for f in report.passed] or ["- Nothing yet."]
    if report.layers is not None:
        lines += ["", "### 🔍 Stack", f"- `hardening` layers, outermost first: {', '.join(report.layers) or 'none'}"]
    if report.notes:
        lines += ["", "### 📝 Notes", *[f"- {note}" for note in report.notes]]
    lines += ["", "---", ""]
    for priority, heading in _SECTIONS:
        section = [f for f in report.problems if f.priority == priority]
        lines += [f"## {heading}", ""]
        if not section:
            lines += ["None found. ✅", ""]
        for index, finding in enumerate(section, start=1):
            lines += _finding_md(finding, index)
        lines += ["---", ""]
    lines += ["## ⏭️ Not Tested", ""]
    lines += [f"- `{f.id}` {f.title}: {f.observed}" for f in report.skipped] or ["- Everything was tested."]
    lines += ["", "---", "", "## 📈 Risk Assessment", "", *_risk_rows(report), "", "---", "", "## 🎯 Next Steps", ""]
    order = [f for f in report.problems if f.status == "fail"] + [f for f in report.problems if f.status == "warn"]
    order.sort(key=lambda f: f.priority)
    lines += [f"{n}. `{f.id}` ({f.priority}): {f.fix}" for n, f in enumerate(order, start=1)] or [
        "Nothing to fix at these priorities. Re-run `hardening audit` in CI to keep it that way."
    ]
    return redact_text("\n".join(lines)) + "\n"


def render_json(report: AuditReport, fail_level: FailLevel = "p1") -> str:
    """Render the report as JSON (with ``failed`` and ``fail_level``)."""
    import json

    data = report.to_dict()
    data["fail_level"] = fail_level
    data["failed"] = report.failed(fail_level)
    return redact_text(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


def render(report: AuditReport, fmt: str = "text", fail_level: FailLevel = "p1") -> str:
    """Render ``report`` as ``text``, ``markdown`` or ``json``."""
    renderers = {"text": render_text, "markdown": render_markdown, "json": render_json}
    return renderers[fmt](report, fail_level)
