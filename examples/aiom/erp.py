"""ERP sync: a JSON-RPC call to Odoo (``ODOO_URL``), with bounded time and clean errors.

The sync asks Odoo's ``common.version`` service (no credentials needed) and reports the
ERP's version next to the operations waiting to be pushed. A failure is a problem+json
502 or 504; the ERP's own error text is logged as a type only, never sent on.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import httpx

from examples.aiom.settings import AIOMSettings
from hardening import Problem, ProblemError

__all__ = ["erp_version"]

_logger = logging.getLogger("aiom.erp")


def _problem(status: int, slug: str, title: str, detail: str) -> ProblemError:
    return ProblemError(Problem(status, type=f"urn:aiom:problem:{slug}", title=title, detail=detail))


async def erp_version(client: httpx.AsyncClient, settings: AIOMSettings) -> dict[str, Any]:
    """Return Odoo's ``common.version`` answer.

    Raises:
        ProblemError: 503 when ``ODOO_URL`` is not set; 502/504 when the ERP fails.
    """
    if settings.odoo_url is None:
        raise _problem(
            503, "erp-not-configured", "ERP not configured", "ERP sync is off: set ODOO_URL to the Odoo base URL."
        )
    payload = {
        "jsonrpc": "2.0",
        "method": "call",
        "params": {"service": "common", "method": "version", "args": []},
        "id": secrets.randbelow(2**31),
    }
    try:
        response = await client.post(f"{settings.odoo_url}/jsonrpc", json=payload, timeout=settings.erp_timeout)
    except httpx.TimeoutException:
        raise _problem(504, "erp-timeout", "ERP timed out", "The ERP did not answer in time.") from None
    except httpx.HTTPError as exc:
        _logger.warning("erp.unreachable: %s", type(exc).__name__)
        raise _problem(502, "erp-unreachable", "ERP unreachable", "The ERP could not be reached.") from None
    try:
        data = response.json() if response.status_code == 200 else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or "error" in data or not isinstance(data.get("result"), dict):
        _logger.warning("erp.bad_answer: status %s", response.status_code)
        raise _problem(502, "erp-bad-answer", "Unexpected ERP answer", "The ERP's answer was not understood.")
    result: dict[str, Any] = data["result"]
    return {key: result[key] for key in ("server_version", "protocol_version") if key in result}
