"""``hardening audit`` on the command line, and the Markdown report's shape (golden file)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from hardening.audit import audit, render_markdown
from hardening.cli import main
from tests.audit import apps

pytestmark = pytest.mark.needs_extras

GOLDEN = Path(__file__).parent / "golden" / "bare_starlette.md"


def normalise(markdown: str) -> str:
    """Replace the values that change from run to run."""
    markdown = re.sub(
        r"\*\*Generated\*\*: \S+ by `hardening audit` \S+", "**Generated**: <when> by <version>", markdown
    )
    markdown = re.sub(r"\(\d+ ms\)", "(<ms>)", markdown)
    markdown = re.sub(r"in \d+\.\d s", "in <s> s", markdown)
    markdown = re.sub(r"Slowest: (\S+) in \d+ ms", r"Slowest: \1 in <ms>", markdown)
    markdown = re.sub(
        r"^allow: (.*)$", lambda m: "allow: " + ", ".join(sorted(m.group(1).split(", "))), markdown, flags=re.M
    )
    return re.sub(r"\b[0-9a-f]{32}\b", "<request-id>", markdown)


def test_markdown_report_shape_matches_golden() -> None:
    report = audit(apps.make_starlette(), name="tests.audit.apps:bare_starlette")
    text = normalise(render_markdown(report))
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_markdown_sections_follow_the_gap_report() -> None:
    text = GOLDEN.read_text(encoding="utf-8")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## 📊 Current State Assessment",
        "## 🚨 Priority 0 (BLOCKERS - Must Fix Before Launch)",
        "## ⚠️ Priority 1 (CRITICAL - Fix Before Public Launch)",
        "## 📋 Priority 2 (IMPORTANT - Fix Within 2 Weeks Post-Launch)",
        "## ⏭️ Not Tested",
        "## 📈 Risk Assessment",
        "## 🎯 Next Steps",
    ]
    assert "| **Security** | 🔴 HIGH |" in text
    assert "### P0-1: A health endpoint exists (`AUD-HEALTH-001`)" in text


def test_cli_bare_app_fails_with_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["audit", "tests.audit.apps:bare_starlette", "--format", "json", "--no-burst"])
    out = capsys.readouterr().out
    data = json.loads(out)
    assert code == 1
    assert data["failed"] is True
    assert data["fail_level"] == "p1"
    assert data["summary"]["problems"]["P0"] == 1
    ids = {f["id"] for f in data["findings"] if f["status"] in ("warn", "fail")}
    assert "AUD-HOST-001" in ids
    assert {f["id"]: f["status"] for f in data["findings"]}["AUD-RL-001"] == "skip"


def test_cli_fail_level_p0_and_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "report.md"
    code = main(
        ["audit", "tests.audit.apps:bare_fastapi", "--format", "markdown", "--output", str(target), "--no-burst"]
    )
    assert code == 1  # AUD-HEALTH-001 is a P0
    assert target.read_text(encoding="utf-8").startswith("# 🎯 Production Readiness Audit")
    summary = capsys.readouterr().out
    assert "AUD-HEALTH-001" in summary
    assert "FAIL at fail level P1" in summary


def test_cli_hardened_app_with_settings_passes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HARDENING_HOSTS__ALLOWED_HOSTS", apps.HOST)
    monkeypatch.setenv("HARDENING_CORS__ALLOW_ORIGINS", apps.ORIGIN)
    monkeypatch.setenv("HARDENING_CORS__ALLOW_CREDENTIALS", "true")
    code = main(["audit", "tests.audit.apps:hardened_app", "--settings", "tests.audit.apps:ProductionSettings"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASS at fail level P1" in out
    assert "AUD-" not in out.split("hardening layers")[0]  # no audit problem listed, only settings warnings


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["audit", "no_colon"], "MODULE:APP"),
        (["audit", "tests.audit.missing_module:app"], "cannot import module"),
        (["audit", "tests.audit.apps:HOST"], "is not an ASGI app"),
        (["audit", "tests.audit.apps:bare_starlette", "--settings", "tests.audit.apps:HOST"], "not a settings class"),
        (["audit", "http://127.0.0.1:9", "--timeout", "2"], "did not answer"),
    ],
)
def test_cli_usage_errors_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
