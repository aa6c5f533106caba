"""Optional dependencies in test modules: skipped only where the run leaves them out.

``nox -s tests_minimal`` installs no extra and deselects ``needs_extras`` tests; there a
test module that needs an extra is skipped at import. Every other run has the extras
installed (``nox -s tests`` installs ``hardening[all]``), so a missing one is a broken
environment: locally the module is skipped with the reason, with ``CI=true`` it fails.
Use :func:`import_extra` instead of ``pytest.importorskip`` and mark the module
``pytestmark = pytest.mark.needs_extras``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from tests.servers import IN_CI

__all__ = ["import_extra", "set_extras_deselected"]

_extras_deselected = False


def set_extras_deselected(markexpr: str) -> None:
    """Record whether this run's ``-m`` expression leaves ``needs_extras`` tests out (from conftest)."""
    global _extras_deselected
    _extras_deselected = "not needs_extras" in " ".join(markexpr.split())


def import_extra(module: str, install: str) -> ModuleType:
    """Import ``module`` for a test module; skip it (or fail in CI) when it is missing.

    Args:
        module: The module to import, for example ``"structlog"``.
        install: What installs it, for the message, for example ``"hardening[logging]"``.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        reason = f"{module} is not installed (install {install})"
        if IN_CI and not _extras_deselected:
            pytest.fail(f"{reason}; CI=true and this run needs it: tests may not skip silently", pytrace=False)
        raise pytest.skip.Exception(reason, allow_module_level=True) from exc
