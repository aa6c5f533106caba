"""Sentry: every payload redacted (canaries), 4xx not reported, request ID tagged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.extras import import_extra

sentry_sdk = import_extra("sentry_sdk", "hardening[sentry]")

from starlette.applications import Starlette  # noqa: E402
from starlette.exceptions import HTTPException  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from hardening import HardeningSettings  # noqa: E402
from hardening.checks import run_checks  # noqa: E402
from hardening.logs import RequestIdMiddleware  # noqa: E402
from hardening.monitoring import SentryConfig, init_sentry, redacting_hooks  # noqa: E402
from hardening.redaction import register_secret  # noqa: E402
from tests.sentry_capture import CaptureTransport, capture  # noqa: E402

pytestmark = pytest.mark.needs_extras

DSN = "https://publickey@o0.ingest.sentry.io/42"
SETTINGS_SECRET = "canary-settings-0a1b2c"
CANARIES = {
    "settings": SETTINGS_SECRET,
    "body_password": "canary-body-pw-3d4e",
    "body_token": "canary-body-token-5f6a",
    "query": "canary-query-7b8c",
    "header": "canary-header-9d0e",
    "auth": "canary-auth-1f2a",
    "dsn_password": "canary-dsnpw-3b4c",
    "breadcrumb": "canary-crumb-5d6e",
}


@pytest.fixture
def transport() -> Iterator[CaptureTransport]:
    yield from capture()


async def fail(request: Request) -> PlainTextResponse:
    data = await request.json()
    password = data["user"]["password"]  # a local holding a secret
    logging.getLogger("app").warning("retrying with token=%s", CANARIES["breadcrumb"])
    raise RuntimeError(
        f"cannot connect to postgresql://app:{CANARIES['dsn_password']}@db/app "
        f"using {SETTINGS_SECRET} ({len(password)})"
    )


async def missing(request: Request) -> PlainTextResponse:
    raise HTTPException(404)


APP = Starlette(routes=[Route("/fail", fail, methods=["POST"]), Route("/missing", missing)])


async def exercise(app: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await http.post(
            f"/fail?api_key={CANARIES['query']}&page=1",
            json={
                "user": {"name": "ann", "password": CANARIES["body_password"]},
                "access_token": CANARIES["body_token"],
            },
            headers={"X-Api-Key": CANARIES["header"], "Authorization": f"Bearer {CANARIES['auth']}"},
        )


@pytest.mark.anyio
@pytest.mark.parametrize(
    "options",
    [
        {},
        # the riskiest settings: bodies and locals sent; the redaction must still hold
        {"max_request_body_size": "always", "include_local_variables": True},
    ],
)
async def test_canaries_never_reach_sentry(transport: CaptureTransport, options: dict[str, Any]) -> None:
    register_secret(SETTINGS_SECRET)
    settings = HardeningSettings(environment="staging", sentry=SentryConfig(dsn=DSN, release="1.2.3", **options))
    assert init_sentry(settings, transport=transport)
    response = await exercise(RequestIdMiddleware(APP))
    assert response.status_code == 500
    sentry_sdk.flush()
    [event] = transport.events()
    payload = transport.payload()
    for name, canary in CANARIES.items():
        assert canary.encode() not in payload, name
    assert event["tags"]["request_id"] == response.headers["x-request-id"]
    assert event["environment"] == "staging"
    assert event["release"] == "1.2.3"
    [exception] = event["exception"]["values"]
    assert "postgresql://[REDACTED]@db/app" in exception["value"]
    frames_vars = [frame.get("vars", {}) for frame in exception["stacktrace"]["frames"]]
    if options:  # local variables were sent, and redacted by name and by known value
        assert {"password": "[REDACTED]"}.items() <= next(v for v in frames_vars if "password" in v).items()
    else:
        assert not any(frames_vars)


@pytest.mark.anyio
async def test_4xx_not_reported_unless_asked(transport: CaptureTransport) -> None:
    init_sentry(HardeningSettings(sentry=SentryConfig(dsn=DSN)), transport=transport)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="http://t") as http:
        assert (await http.get("/missing")).status_code == 404
    sentry_sdk.capture_exception(HTTPException(422))
    sentry_sdk.flush()
    assert transport.events() == []


def test_report_4xx_and_user_hooks_chain() -> None:
    seen: list[str] = []

    def user_before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
        seen.append("user")
        return {**event, "extra": {"password": "pw", "ok": 1}}

    hooks = redacting_hooks(SentryConfig(report_4xx=True), {"before_send": user_before_send})
    event = hooks["before_send"]({"message": "x"}, {"exc_info": (HTTPException, HTTPException(404), None)})
    assert seen == ["user"]
    assert event["extra"] == {"password": "[REDACTED]", "ok": 1}
    dropping = redacting_hooks(SentryConfig(), {"before_breadcrumb": lambda crumb, hint: None})
    assert dropping["before_breadcrumb"]({"message": "m"}, {}) is None
    assert redacting_hooks()["before_send_log"]({"body": "token=abc", "attributes": {"secret": "s"}}, {}) == {
        "body": "token=[REDACTED]",
        "attributes": {"secret": "[REDACTED]"},
    }


def test_defaults_and_no_dsn() -> None:
    config = SentryConfig()
    assert config.send_default_pii is False
    assert config.include_local_variables is False
    assert config.max_request_body_size == "never"
    assert init_sentry(HardeningSettings()) is False
    assert init_sentry(HardeningSettings(sentry=SentryConfig(dsn=DSN, enabled=False))) is False


def test_dsn_validation_never_echoes() -> None:
    with pytest.raises(ValueError, match=r"(?s)^(?!.*HARDENING_).*\bdsn\b") as info:
        SentryConfig(dsn="not-a-dsn-canary-zz9")
    assert "canary-zz9" not in str(info.value)
    with pytest.raises(ValueError, match=r"(?s)^(?!.*HARDENING_).*\bsample_rate\b"):
        SentryConfig(sample_rate=1.5)
    assert "publickey" not in repr(SentryConfig(dsn=DSN))


def test_production_rules() -> None:
    ids = {f.id for f in run_checks(HardeningSettings(environment="production"))}
    assert "HARDENING-MON-001" in ids
    risky = HardeningSettings(
        environment="production",
        sentry=SentryConfig(
            dsn=DSN, send_default_pii=True, include_local_variables=True, max_request_body_size="always"
        ),
    )
    ids = {f.id for f in run_checks(risky)}
    assert {"HARDENING-MON-002", "HARDENING-MON-003", "HARDENING-MON-004"} <= ids
    assert "HARDENING-MON-001" not in ids
    assert not any(f.id.startswith("HARDENING-MON") for f in run_checks(HardeningSettings(environment="development")))
