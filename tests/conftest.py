"""Shared fixtures: hypothesis profiles, environment isolation, real servers."""

from __future__ import annotations

import logging
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


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Put every logger back as it was: tests (and the benchmark smoke test) configure logging."""
    loggers = [
        logging.getLogger(),
        *(lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)),
    ]
    saved = [(lg, list(lg.handlers), lg.level, lg.propagate, lg.disabled) for lg in loggers]
    yield
    known = {id(lg) for lg in loggers}
    for lg, handlers, level, propagate, disabled in saved:
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate
        lg.disabled = disabled
    for item in list(logging.root.manager.loggerDict.values()):
        if isinstance(item, logging.Logger) and id(item) not in known:
            item.handlers.clear()
            item.setLevel(logging.NOTSET)
            item.propagate = True
