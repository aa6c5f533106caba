"""``hardening audit --settings``: how the settings are loaded and named in the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardening.cli import main

BROKEN = """
raise ImportError("the settings module needs a package that is missing")
"""

REQUIRED = '''
from hardening import AppSettings


class Settings(AppSettings):
    """Audit test settings with one variable required everywhere."""

    payments_api_url: str
    """Where payments are sent."""
'''


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "broken_settings.py").write_text(BROKEN)
    (tmp_path / "required_settings.py").write_text(REQUIRED)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HARDENING_ENVIRONMENT", "development")
    return tmp_path


def test_an_import_error_in_the_settings_module_is_reported_as_the_import_error(
    modules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "examples.bare_asgi:app", "--settings", "broken_settings:Settings", "--no-burst"]) == 2
    err = capsys.readouterr().err
    assert "cannot import module 'broken_settings'" in err
    assert "ImportError: the settings module needs a package that is missing" in err
    assert "not a settings class" not in err
    assert "Traceback" not in err


def test_a_name_that_is_not_a_settings_class_is_still_said_so(
    modules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "examples.bare_asgi:app", "--settings", "required_settings:Nothing", "--no-burst"]) == 2
    assert "is not a settings class" in capsys.readouterr().err


@pytest.mark.needs_extras  # limits/secure: not in the tests_minimal session
def test_missing_settings_are_named_in_the_report(modules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["audit", "examples.bare_asgi:app", "--settings", "required_settings:Settings", "--no-burst"])
    out = capsys.readouterr().out
    assert "1 setting(s) missing or invalid" in out
    assert "PAYMENTS_API_URL (missing)" in out
