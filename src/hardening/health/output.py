"""Response bodies: ``application/health+json`` (draft-inadarei-api-health-check-06) and OpenMetrics.

The detailed body follows the draft: ``status`` (pass/warn/fail), ``checks`` keyed
``component:measurement`` with an array of component details per key,
``observedValue`` with ``observedUnit``, ``time`` in ISO 8601, and ``output`` only
when the status is not ``pass``. Without details, the body is ``{"status": "..."}``:
probes read the status code and at most 10 KiB.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Final

from hardening.health.result import CheckResult
from hardening.health.runtime import GroupReport

__all__ = ("HEALTH_JSON", "OPENMETRICS", "health_json", "minimal_json", "openmetrics")

HEALTH_JSON: Final = "application/health+json"
"""The draft's media type (never IANA-registered; ``application/json`` is served on request)."""

OPENMETRICS: Final = "application/openmetrics-text; version=1.0.0; charset=utf-8"
"""The OpenMetrics text media type."""


def _dumps(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def minimal_json(report: GroupReport) -> bytes:
    """Return ``{"status": ...}``: the body shown when details are not allowed."""
    return _dumps({"status": report.status})


def _component(result: CheckResult) -> dict[str, Any]:
    item: dict[str, Any] = {"status": result.status}
    if result.component_id:
        item["componentId"] = result.component_id
    if result.component_type:
        item["componentType"] = result.component_type
    if result.observed_value is not None:
        item["observedValue"] = result.observed_value
        item["observedUnit"] = result.observed_unit or "value"
    item["time"] = result.time
    if result.status != "pass" and result.output:
        item["output"] = result.output
    return item


def health_json(report: GroupReport, *, service: Mapping[str, str]) -> bytes:
    """Return the detailed health+json body of ``report``.

    Args:
        report: The evaluated endpoint.
        service: Top-level members to add (``serviceId``, ``version``, ``releaseId``,
            ``description``); empty values are left out.
    """
    body: dict[str, Any] = {"status": report.status}
    body.update({key: value for key, value in service.items() if value})
    if report.status != "pass" and report.output:
        body["output"] = report.output
    checks: dict[str, list[dict[str, Any]]] = {}
    for item in report.checks:
        component = _component(item.result)
        if item.criticality == "informational":
            component["critical"] = False
        checks[item.spec.name] = [component]
    if checks:
        body["checks"] = checks
    body["notes"] = [f"{report.group} evaluated in {math.ceil(report.elapsed * 1000)} ms"]
    return _dumps(body)


_STATUS_VALUE: Final = {"pass": 1, "warn": 0.5, "fail": 0}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def openmetrics(results: Mapping[str, CheckResult | None], *, prefix: str = "hardening_health") -> bytes:
    """Return the cached results as OpenMetrics text; nothing is re-run.

    ``<prefix>_check_status`` is 1 for pass, 0.5 for warn, 0 for fail (and 0 for a
    check that never finished); ``<prefix>_check_duration_seconds`` is the last run time.
    """
    lines = [
        f"# TYPE {prefix}_check_status gauge",
        f"# HELP {prefix}_check_status Last health check status: 1 pass, 0.5 warn, 0 fail.",
    ]
    durations: list[str] = []
    for name, result in results.items():
        label = _label(name)
        status = result.status if result is not None else "fail"
        lines.append(f'{prefix}_check_status{{check="{label}",status="{status}"}} {_STATUS_VALUE[status]}')
        if result is not None and result.duration is not None:
            durations.append(f'{prefix}_check_duration_seconds{{check="{label}"}} {result.duration:.6f}')
    lines.append(f"# TYPE {prefix}_check_duration_seconds gauge")
    lines.append(f"# HELP {prefix}_check_duration_seconds Duration of the last health check run.")
    lines.extend(durations)
    lines.append("# EOF")
    return ("\n".join(lines) + "\n").encode()
