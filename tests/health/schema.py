"""A validator for ``application/health+json`` bodies (draft-inadarei-api-health-check-06)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

STATUSES = {"pass", "warn", "fail"}
KEY = re.compile(r"^[^:]*(:[^:]*)?$")
TOP_LEVEL = {"status", "version", "releaseId", "notes", "output", "checks", "links", "serviceId", "description"}


def validate_health_json(body: Any, http_status: int) -> list[str]:
    """Return the list of rule violations in ``body`` (empty when valid)."""
    errors: list[str] = []
    if not isinstance(body, dict):
        return ["body is not an object"]
    status = body.get("status")
    if status not in STATUSES:
        errors.append(f"status {status!r} not pass/warn/fail")
    if status in {"pass", "warn"} and not 200 <= http_status < 400:
        errors.append(f"{status} must be served with 2xx-3xx, got {http_status}")
    if status == "fail" and not 400 <= http_status < 600:
        errors.append(f"fail must be served with 4xx-5xx, got {http_status}")
    if status == "pass" and "output" in body:
        errors.append("output SHOULD be omitted for pass")
    for key in ("version", "releaseId", "serviceId", "description", "output"):
        if key in body and not isinstance(body[key], str):
            errors.append(f"{key} must be a string")
    if "notes" in body and not (isinstance(body["notes"], list) and all(isinstance(n, str) for n in body["notes"])):
        errors.append("notes must be an array of strings")
    checks = body.get("checks", {})
    if not isinstance(checks, dict):
        return [*errors, "checks must be an object"]
    for key, items in checks.items():
        if not KEY.match(key):
            errors.append(f"check key {key!r} is not component:measurement")
        if not isinstance(items, list) or not items:
            errors.append(f"checks[{key!r}] must be a non-empty array")
            continue
        for item in items:
            errors.extend(_validate_component(key, item))
    return errors


def _validate_component(key: str, item: Any) -> list[str]:
    errors: list[str] = []
    if not isinstance(item, dict) or not item:
        return [f"{key}: component detail must be a non-empty object"]
    if item.get("status") not in STATUSES:
        errors.append(f"{key}: status {item.get('status')!r}")
    if "observedValue" in item and not item.get("observedUnit"):
        errors.append(f"{key}: observedValue without observedUnit")
    if item.get("status") == "pass" and ("output" in item or "affectedEndpoints" in item):
        errors.append(f"{key}: output/affectedEndpoints present on pass")
    if "time" in item:
        try:
            datetime.fromisoformat(str(item["time"]).replace("Z", "+00:00"))
        except ValueError:
            errors.append(f"{key}: time {item['time']!r} is not ISO 8601")
    for name in ("componentId", "componentType", "output"):
        if name in item and not isinstance(item[name], str):
            errors.append(f"{key}: {name} must be a string")
    return errors
