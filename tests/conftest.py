"""Shared fixtures: hypothesis profiles, environment isolation, real servers."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from hardening.redaction import _clear_registered_secrets

pytest_plugins = ["tests.servers"]

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_configure(config: pytest.Config) -> None:
    """Tell ``tests.extras`` whether this run deselects ``needs_extras`` (nox ``tests_minimal``)."""
    from tests.extras import set_extras_deselected  # after tests.servers is loaded as a plugin

    set_extras_deselected(str(config.getoption("markexpr", "") or ""))


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio (the loop uvicorn uses)."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _isolate_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Drop HARDENING_* variables from the environment and forget registered secrets."""
    for key in list(os.environ):
        if key.startswith("HARDENING_"):
            monkeypatch.delenv(key)
    yield
    _clear_registered_secrets()
