"""``hardening env check|explain|example``: output, exit codes, usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hardening.cli import main

MODULE = '''
from pydantic import SecretStr
from hardening import AppSettings, setting


class Settings(AppSettings):
    """CLI test settings."""

    port: int = 8000
    """The port."""
    secret_key: SecretStr = setting(SecretStr("dev"), required_in=("production",))
    """Signs cookies."""


NOT_SETTINGS = 42
'''


@pytest.fixture
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "cli_settings.py").write_text(MODULE)
    (tmp_path / "broken_settings.py").write_text('raise RuntimeError("needs a missing service")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return "cli_settings:Settings"


def test_check_clean_exits_0(target: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HARDENING_ENVIRONMENT", "development")
    assert main(["env", "check", target]) == 0
    assert "no problems found" in capsys.readouterr().out


def test_check_problems_exit_1_text_and_json(
    target: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PORT", "not-a-port")
    assert main(["env", "check", target]) == 1
    out = capsys.readouterr().out
    assert "PORT" in out
    assert "SECRET_KEY" in out
    assert "not-a-port" not in out
    assert main(["env", "check", target, "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert {p["env_var"] for p in data["problems"]} >= {"PORT", "SECRET_KEY"}


def test_fail_level_and_silence(
    target: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HARDENING_ENVIRONMENT", "development")
    monkeypatch.setenv("HARDENING_TYPO", "1")
    assert main(["env", "check", target]) == 0
    assert main(["env", "check", target, "--fail-level", "warning"]) == 1
    assert main(["env", "check", target, "--fail-level", "warning", "--silence", "HARDENING-SET-012"]) == 0
    capsys.readouterr()


def test_env_file(target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env_file = tmp_path / "prod.env"
    env_file.write_text("HARDENING_ENVIRONMENT=development\nPORT=9001\nOTHER_TOKEN=abc-unrelated\n")
    assert main(["env", "explain", target, "--env-file", str(env_file)]) == 0
    out = capsys.readouterr().out
    assert "PORT" in out
    assert "env file prod.env" in out
    assert "abc-unrelated" not in out


def test_example(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env", "example", target]) == 0
    out = capsys.readouterr().out
    assert "PORT=8000" in out
    assert "SECRET_KEY=\n" in out
    assert "HARDENING_ENVIRONMENT=production" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["env", "check", "no_colon"], "MODULE:SettingsClass"),
        (["env", "check", "no_such_module_xyz:Settings"], "cannot import module"),
        (["env", "check", "broken_settings:Settings"], "(RuntimeError: needs a missing service)"),
        (["env", "check", "cli_settings:NOT_SETTINGS"], "is not a settings class"),
        (["env", "check", "cli_settings:Missing"], "is not a settings class"),
        (["env", "check", "cli_settings:Settings", "--env-file", "missing.env"], "does not exist"),
    ],
)
def test_usage_errors_exit_2_without_traceback(
    target: str, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert target
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_console_script_subprocess(target: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hardening.cli", "env", "check", target],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PORT": "bad-value-zz"},
    )
    assert result.returncode == 1
    assert "PORT" in result.stdout
    assert "bad-value-zz" not in result.stdout + result.stderr
    broken = subprocess.run(
        [sys.executable, "-m", "hardening.cli", "env", "check", "nope_mod:X"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert broken.returncode == 2
    assert "Traceback" not in broken.stderr
