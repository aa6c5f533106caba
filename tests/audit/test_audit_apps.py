"""The audit against bare Starlette/FastAPI apps and the same apps wrapped by harden()."""

from __future__ import annotations

from typing import Any

import pytest

from hardening.audit import AuditReport, audit
from hardening.testing import assert_audit_passes, audit_app
from tests.audit import apps

pytestmark = pytest.mark.needs_extras

BARE_COMMON = {
    "AUD-HEALTH-001",
    "AUD-HEALTH-002",
    "AUD-HEALTH-003",
    "AUD-HEALTH-004",
    "AUD-ERR-001",
    "AUD-ERR-002",
    "AUD-ERR-004",
    "AUD-HDR-001",
    "AUD-HDR-002",
    "AUD-HDR-003",
    "AUD-HDR-004",
    "AUD-HDR-005",
    "AUD-HDR-006",
    "AUD-HDR-007",
    "AUD-HDR-008",
    "AUD-HOST-001",
    "AUD-RL-001",
    "AUD-RL-003",
    "AUD-RID-001",
    "AUD-RID-002",
    "AUD-CORS-004",
    "AUD-STACK-001",
}


@pytest.fixture(scope="module")
def bare_starlette_report() -> AuditReport:
    return audit(apps.make_starlette())


@pytest.fixture(scope="module")
def bare_fastapi_report() -> AuditReport:
    return audit(apps.make_fastapi())


def test_bare_starlette_findings(bare_starlette_report: AuditReport) -> None:
    report = bare_starlette_report
    # raw `await request.json()` crashes on malformed JSON: a 500
    assert report.problem_ids() == BARE_COMMON | {"AUD-ERR-003"}
    assert report.problem_ids("P0") == {"AUD-HEALTH-001"}
    assert report["AUD-ERR-003"].status == "fail"
    assert "answered 500" in report["AUD-ERR-003"].observed
    assert report.exit_code("p1") == 1
    assert report.exit_code("p0") == 1
    assert report.layers == ()
    assert {f.id for f in report.skipped} == {
        "AUD-CORS-003",
        "AUD-ERR-007",
        "AUD-HEALTH-005",
        "AUD-RL-002",
        "AUD-SET-001",
        "AUD-SET-002",
    }


def test_bare_fastapi_findings(bare_fastapi_report: AuditReport) -> None:
    report = bare_fastapi_report
    # FastAPI answers malformed JSON with a 422 (so AUD-ERR-003 passes), but as
    # application/json rather than problem+json
    assert report.problem_ids() == BARE_COMMON | {"AUD-ERR-007"}
    assert report["AUD-ERR-003"].status == "pass"
    assert report["AUD-ERR-007"].status == "warn"
    assert report["AUD-ERR-001"].evidence[0].content_type == "application/json"
    assert report.exit_code() == 1


def test_bare_findings_carry_evidence_and_fix(bare_starlette_report: AuditReport) -> None:
    host = bare_starlette_report["AUD-HOST-001"]
    assert host.priority == "P1"
    assert host.evidence[0].request_headers[0] == ("Host", "audit-probe.invalid")
    assert host.evidence[0].status == 200
    assert "HARDENING_HOSTS__ALLOWED_HOSTS" in host.fix
    assert host.guide == "docs/capabilities/trusted-hosts.md"
    headers = bare_starlette_report["AUD-HDR-001"]
    assert "grade D" in headers.observed
    burst = bare_starlette_report["AUD-RL-001"]
    assert "No 429 after 200 requests" in burst.observed


@pytest.mark.parametrize("factory", [apps.hardened_starlette, apps.hardened_fastapi], ids=["starlette", "fastapi"])
def test_hardened_apps_pass(factory: Any) -> None:
    report = assert_audit_passes(factory(), settings=apps.production_settings())
    assert report.exit_code("p1") == 0
    assert report.problem_ids("P0") == set()
    assert report.problem_ids("P1") == set()
    # every probe of the service itself passes; what is left are settings warnings
    assert {i for i in report.problem_ids() if i.startswith("AUD-")} == set()
    assert report.skipped == ()
    assert report["AUD-RL-001"].status == "pass"
    assert report["AUD-HDR-001"].observed.startswith("Score 1")  # 100 or more: A+
    assert report["AUD-CORS-004"].observed.startswith("The preflight from https://app.example.com is granted")
    assert report.layers is not None
    assert {"request_id", "errors", "health", "headers", "hosts", "cors", "body_limit", "rate_limit"} <= set(
        report.layers
    )
    assert report.base_url == "https://api.example.com"


def test_hardened_app_with_a_host_it_refuses_is_told_to_pass_one() -> None:
    report = audit_app(apps.hardened_starlette(), host="testserver", burst=False)
    assert report["AUD-HOST-001"].status == "skip"
    assert "--host" in report["AUD-RUN-001"].observed
    assert audit_app(apps.hardened_starlette(), host=apps.HOST, burst=False)["AUD-HOST-001"].status == "pass"


def test_assert_audit_passes_lists_failures() -> None:
    with pytest.raises(AssertionError, match=r"AUD-HEALTH-001.*\n.*") as info:
        assert_audit_passes(apps.make_starlette(), burst=False)
    assert "HARDENING_HOSTS__ALLOWED_HOSTS" in str(info.value)
    report = audit_app(apps.make_starlette(), burst=False)
    assert report["AUD-RL-001"].status == "skip"
    with pytest.raises(AssertionError):
        assert_audit_passes(report, fail_level="p0")


def test_hardened_with_harden_alone_still_flags_crashing_handler() -> None:
    """harden() cannot turn a handler's crash on malformed JSON into a 4xx."""
    app = apps.make_starlette()
    from hardening import harden

    report = audit(harden(app, apps.production_settings()), settings=apps.production_settings(), burst=False)
    assert report.problem_ids("P1") == {"AUD-ERR-003"}
    assert report["AUD-ERR-003"].evidence[0].content_type == "application/problem+json"
    assert report["AUD-ERR-005"].status == "pass"
