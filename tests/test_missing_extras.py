"""A core install (no extras): ``harden()`` fails once, naming every missing extra and one command.

Runs in the ``tests_minimal`` session, where ``limits`` and ``secure`` are really absent;
with every extra installed, the same packages are hidden from the import system.
"""

from __future__ import annotations

import sys

import pytest
from starlette.applications import Starlette

from hardening import HardeningSettings, harden
from hardening._imports import raise_missing
from hardening.errors import MissingDependencyError

HIDDEN = ("limits", "secure")


@pytest.fixture
def core_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``limits`` and ``secure`` (and their submodules) unimportable, as in a core install."""
    for name in list(sys.modules):
        if name.partition(".")[0] in HIDDEN:
            monkeypatch.setitem(sys.modules, name, None)
    for name in HIDDEN:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.usefixtures("core_install")
def test_default_settings_fail_once_naming_every_missing_extra() -> None:
    with pytest.raises(MissingDependencyError) as info:
        harden(Starlette(), HardeningSettings(environment="development"))
    message = str(info.value)
    assert "headers needs 'secure' (extra 'headers')" in message
    assert "rate_limit needs 'limits' (extra 'ratelimit')" in message
    assert "pip install 'hardening[headers,ratelimit]'" in message
    assert message.count("pip install") == 1
    assert "HARDENING_HEADERS__ENABLED=false" in message
    assert "HARDENING_RATE_LIMIT__ENABLED=false" in message
    assert info.value.extra == "headers,ratelimit"
    assert info.value.package == "secure, limits"


@pytest.mark.usefixtures("core_install")
def test_only_the_enabled_layers_are_named() -> None:
    settings = HardeningSettings(environment="development", rate_limit={"enabled": False})
    with pytest.raises(MissingDependencyError, match=r"pip install 'hardening\[headers\]'") as info:
        harden(Starlette(), settings)
    assert "limits" not in str(info.value)
    off = HardeningSettings(environment="development", rate_limit={"enabled": False}, headers={"enabled": False})
    assert callable(harden(Starlette(), off))  # the rest of the core works without extras


def test_nothing_missing_raises_nothing() -> None:
    raise_missing([])
    with pytest.raises(MissingDependencyError, match=r"pip install 'hardening\[ratelimit,redis\]'"):
        raise_missing([("rate_limit", "ratelimit", "limits"), ("rate_limit", "redis", "redis")])
