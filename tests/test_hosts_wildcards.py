"""Trusted-host wildcards: special-use bases accepted, public suffixes refused, clear messages.

Issue 19: ``*.localhost`` and ``*.internal`` were refused with a message ("'*.' followed
by a domain") that did not say why.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hardening import HardeningSettings
from hardening.errors import ConfigurationError
from hardening.hosts import TrustedHostConfig, TrustedHostMiddleware
from tests.asgi_call import call, http_scope

pytestmark = pytest.mark.anyio


async def app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def status(config: TrustedHostConfig, host: bytes) -> int:
    scope = http_scope()
    scope["headers"] = [(b"host", host)]
    return (await call(TrustedHostMiddleware(app, config), scope)).status


@pytest.mark.parametrize(
    ("entry", "host"),
    [
        ("*.localhost", b"app.localhost:8000"),
        ("*.internal", b"api.internal"),
        ("*.test", b"a.b.test"),
        ("*.local", b"printer.local"),
        ("*.svc.cluster.local", b"api.default.svc.cluster.local"),
        ("*.home.arpa", b"nas.home.arpa"),
        ("*.example.co.uk", b"shop.example.co.uk"),
    ],
)
async def test_special_use_and_registrable_bases_are_accepted(entry: str, host: bytes) -> None:
    config = TrustedHostConfig(allowed_hosts=[entry])
    assert config.allowed_hosts == (entry,)
    assert await status(config, host) == 200
    apex = entry.removeprefix("*.").encode()
    assert await status(config, apex) == 400  # a wildcard never matches its base


@pytest.mark.parametrize("entry", ["*.com", "*.co.uk", "*.github.io", "*.corp"])
def test_a_public_suffix_base_is_refused_saying_why(entry: str) -> None:
    base = entry.removeprefix("*.")
    with pytest.raises(ValidationError) as info:
        TrustedHostConfig(allowed_hosts=[entry])
    message = str(info.value)
    assert f"'{base}' is a public suffix (Public Suffix List)" in message
    assert "'*.localhost'" in message  # what a wildcard may look like


@pytest.mark.parametrize("entry", ["https://api.example.com", "api.example.com/", "a.*.example.com", "", "*."])
def test_a_malformed_entry_gets_a_message_saying_what_an_entry_may_look_like(entry: str) -> None:
    with pytest.raises(ValidationError) as info:
        TrustedHostConfig(allowed_hosts=[entry])
    message = str(info.value)
    for example in ("'api.example.com'", "'*.example.com'", "'*.localhost'", "'[::1]:8000'", "'*' alone"):
        assert example in message, message


def test_the_loader_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDENING_ENVIRONMENT", "development")
    monkeypatch.setenv("HARDENING_HOSTS__ALLOWED_HOSTS", '["*.co.uk"]')
    with pytest.raises(ConfigurationError) as info:
        HardeningSettings()
    assert "HARDENING_HOSTS__ALLOWED_HOSTS" in str(info.value)
    assert "public suffix" in str(info.value)
