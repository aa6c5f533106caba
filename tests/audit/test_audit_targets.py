"""What the audit probes: uvicorn-style targets and factories, the app's own Host, refused probes.

Also the reporting rules: every finding names what it found, no blank lines in the text
format, and a reason for each check not tested, in every format.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware as StarletteTrustedHost
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hardening import HardeningSettings, harden
from hardening.audit import AuditError, audit, render_json, render_markdown, render_text
from hardening.audit._target import app_host, is_factory
from hardening.cli import main
from tests.audit import apps

pytestmark = pytest.mark.needs_extras

ROOT = Path(__file__).resolve().parents[2]


async def _home(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def _cli_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["audit", *args, "--format", "json", "--no-burst"])
    return code, json.loads(capsys.readouterr().out)


def test_factories_are_told_from_apps() -> None:
    assert is_factory(apps.create_hardened)
    assert is_factory(lambda: None)
    assert not is_factory(apps.bare_starlette)  # Starlette.__call__(scope, receive, send)
    assert not is_factory(_home)
    assert not is_factory(Starlette)  # a class is never called by the audit
    assert not is_factory(lambda *args: None)


def test_a_factory_target_is_called_and_the_report_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = _cli_json(["tests.audit.apps:create_hardened"], capsys)
    assert code == 0
    assert any("is an app factory (detected: a zero-argument callable)" in note for note in data["notes"])
    assert "hosts" in data["layers"]
    code, data = _cli_json(["tests.audit.apps:create_hardened", "--factory"], capsys)
    assert code == 0
    assert any("is an app factory (--factory)" in note for note in data["notes"])


def test_a_factory_that_fails_or_returns_no_app_is_an_audit_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(AuditError, match=r"create_nothing returned int, not an ASGI app"):
        audit("tests.audit.apps:create_nothing", burst=False)

    def broken() -> Any:
        raise RuntimeError("no database")

    with pytest.raises(AuditError, match=r"the app factory .*broken raised RuntimeError: no database"):
        audit(broken, burst=False)
    assert main(["audit", "tests.audit.apps:create_nothing"]) == 2
    assert "not an ASGI app" in capsys.readouterr().err


def test_the_aiom_factory_is_audited_as_its_app(tmp_path: Path) -> None:
    """``hardening audit examples.aiom.app:create_app``: the factory's app, not the factory."""
    env = {
        **os.environ,
        "HARDENING_ENVIRONMENT": "development",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'aiom.sqlite3'}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-m", "hardening.cli", "audit", "examples.aiom.app:create_app", "--no-burst",
         "--format", "json", "--output", str(tmp_path / "report.json")],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads((tmp_path / "report.json").read_text())
    assert any("examples.aiom.app:create_app is an app factory" in note for note in data["notes"])
    findings = {f["id"]: f for f in data["findings"]}
    assert findings["AUD-HEALTH-001"]["status"] == "pass"
    assert findings["AUD-STACK-001"]["status"] == "pass"
    assert {"request_id", "errors", "health", "headers", "hosts", "cors", "body_limit", "rate_limit"} <= set(
        data["layers"]
    )
    assert data["summary"]["problems"] == {"P0": 0, "P1": 0, "P2": 0}


def test_in_process_the_host_comes_from_the_apps_trusted_hosts_layer() -> None:
    report = audit(apps.hardened_starlette(), burst=False)  # allowed_hosts = [api.example.com], no --host
    assert report.base_url == "https://api.example.com"
    assert report["AUD-HOST-001"].status == "pass"
    assert report["AUD-ERR-004"].status == "pass"
    assert any("Host api.example.com taken from the app's trusted-hosts layer" in note for note in report.notes)
    assert "AUD-RUN-001" not in {f.id for f in report.findings}


def test_the_app_host_prefers_a_real_name_and_keeps_testserver_when_allowed() -> None:
    def hosts(*allowed: str, environment: str = "production") -> Any:
        return harden(Starlette(), HardeningSettings(environment=environment, hosts={"allowed_hosts": allowed}))

    assert app_host(hosts("localhost", "api.example.com")) == "api.example.com"
    assert app_host(hosts("*.example.com")) == "audit.example.com"
    assert app_host(hosts("*")) is None
    assert app_host(hosts(environment="development")) is None  # the development hosts include testserver
    assert app_host(apps.make_starlette()) is None


def test_probes_all_refused_by_a_host_check_are_reported_once(capsys: pytest.CaptureFixture[str]) -> None:
    report = audit(apps.hardened_starlette(), host="wrong.example.com", burst_max=20)
    refused = report["AUD-RUN-001"]
    assert (refused.status, refused.priority) == ("fail", "P1")
    assert "refused by a host check (400 for Host wrong.example.com, given with --host)" in refused.observed
    problems = {f.id for f in report.problems}
    assert problems == {"AUD-RUN-001"}  # no "16 MiB body answered 400", no "No 429 after ..."
    assert report["AUD-ERR-004"].status == "skip"
    assert report["AUD-RL-001"].status == "skip"
    assert report["AUD-HEALTH-001"].status == "pass"  # health paths are answered whatever the Host
    text = render_text(report)
    assert text.count("refused by a host check (400 for Host wrong.example.com)") == 1
    assert "16 MiB" not in text


def test_another_frameworks_host_check_refusing_everything() -> None:
    app = Starlette(
        routes=[Route("/", _home)],
        middleware=[Middleware(StarletteTrustedHost, allowed_hosts=["api.example.com"])],
    )
    report = audit(app, burst=False)
    assert report["AUD-RUN-001"].status == "fail"
    assert "Host testserver, the audit's default" in report["AUD-RUN-001"].observed
    assert {f.id for f in report.problems} == {"AUD-RUN-001", "AUD-HEALTH-001", "AUD-HEALTH-002",
                                                "AUD-HEALTH-003", "AUD-HEALTH-004", "AUD-STACK-001"}  # fmt: skip


def test_bare_asgi_example_is_not_failed_on_malformed_json() -> None:
    """examples.bare_asgi:app never reads a body: AUD-ERR-003 is not tested, with the reason."""
    report = audit("examples.bare_asgi:app", burst=False)
    finding = report["AUD-ERR-003"]
    assert finding.status == "skip"
    assert "No route known to read a request body" in finding.observed
    assert "POST / with malformed JSON answered 200" in finding.observed
    assert "AUD-ERR-003" not in report.problem_ids()


def test_a_route_that_reads_a_body_is_still_judged() -> None:
    report = audit(apps.make_starlette(), burst=False)
    finding = report["AUD-ERR-003"]
    assert (finding.status, finding.observed) == ("fail", "Malformed JSON to POST /items answered 500.")


def test_text_has_no_blank_line_and_every_format_gives_the_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDENING_RATE_LIMIT__REPLICAS", "zero")
    report = audit("examples.bare_asgi:app", settings=HardeningSettings, burst=False)
    text = render_text(report)
    assert all(line.strip() for line in text.splitlines()), text
    skipped = report.skipped
    assert skipped
    for finding in skipped:
        assert finding.observed
        line = next(line for line in text.splitlines() if "not tested:" in line and finding.id in line)
        assert line.rstrip().endswith(finding.observed)
        assert f"`{finding.id}` {finding.title}: {finding.observed}" in render_markdown(report)
    data = json.loads(render_json(report))
    assert data["not_tested"] == [{"id": f.id, "reason": f.observed} for f in skipped]


def test_a_missing_or_invalid_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDENING_RATE_LIMIT__REPLICAS", "zero")
    report = audit(apps.make_starlette(), settings=HardeningSettings, burst=False)
    finding = report["AUD-SET-002"]
    assert finding.observed == (
        "1 setting(s) missing or invalid in HardeningSettings: HARDENING_RATE_LIMIT__REPLICAS (invalid)."
    )
    assert "HARDENING_RATE_LIMIT__REPLICAS (invalid)" in render_text(report)
