"""The README's test command finds every interpreter: noxfile.py looks on PATH and in pyenv."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

# Each test imports its own copy of noxfile.py, so nox sees its sessions registered again.
pytestmark = pytest.mark.filterwarnings("ignore:The session .* has already been registered:FutureWarning")

ROOT = Path(__file__).resolve().parents[1]


def _fake_python(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)


def _load_noxfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, ci: bool) -> ModuleType:
    """Import a copy of noxfile.py from ``tmp_path`` (its ``.nox`` link dir lands there too)."""
    shutil.copy(ROOT / "noxfile.py", tmp_path / "noxfile.py")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CI", "true" if ci else "")
    spec = importlib.util.spec_from_file_location("noxfile_under_test", tmp_path / "noxfile.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fake_pyenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pyenv root with two 3.10 patch releases and a 3.12 (3.11 and 3.13 absent); an empty PATH."""
    root = tmp_path / "pyenv"
    for version, minor in (("3.10.2", "3.10"), ("3.10.13", "3.10"), ("3.12.1", "3.12")):
        _fake_python(root / "versions" / version / "bin" / f"python{minor}")
    _fake_python(root / "shims" / "python3.11")  # a shim for a version not selected: ignored
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PYENV_ROOT", str(root))
    monkeypatch.setenv("PATH", f"{root / 'shims'}{os.pathsep}{empty}")
    return root


def test_pyenv_versions_are_linked_onto_path(fake_pyenv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "project").mkdir()
    noxfile = _load_noxfile(tmp_path / "project", monkeypatch, ci=True)
    link_dir = tmp_path / "project" / ".nox" / "_pythons"
    assert noxfile.MISSING_PYTHONS == ["3.11", "3.13"]
    assert (link_dir / "python3.10").resolve() == (fake_pyenv / "versions/3.10.13/bin/python3.10").resolve()
    assert (link_dir / "python3.12").resolve() == (fake_pyenv / "versions/3.12.1/bin/python3.12").resolve()
    assert os.environ["PATH"].split(os.pathsep)[0] == str(link_dir)
    assert shutil.which("python3.10") == str(link_dir / "python3.10")
    # In CI a missing interpreter fails the run, as before.
    assert noxfile.nox.options.error_on_missing_interpreters is True


def test_an_interpreter_on_path_is_used_as_it_is(
    fake_pyenv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path = tmp_path / "usr-bin"
    _fake_python(on_path / "python3.13")
    monkeypatch.setenv("PATH", f"{on_path}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "project").mkdir()
    noxfile = _load_noxfile(tmp_path / "project", monkeypatch, ci=True)
    assert noxfile.MISSING_PYTHONS == ["3.11"]
    assert not (tmp_path / "project" / ".nox" / "_pythons" / "python3.13").exists()
    # A link left by an earlier run for a version now gone is removed, not trusted.
    shutil.rmtree(fake_pyenv / "versions" / "3.12.1")
    shutil.rmtree(fake_pyenv / "versions" / "3.10.13")
    missing = noxfile.find_pythons(["3.10", "3.12"], tmp_path / "project" / ".nox" / "_pythons")
    assert missing == ["3.12"]
    assert (tmp_path / "project/.nox/_pythons/python3.10").resolve() == (
        fake_pyenv / "versions/3.10.2/bin/python3.10"
    ).resolve()
    assert not (tmp_path / "project/.nox/_pythons/python3.12").is_symlink()


def test_outside_ci_a_missing_python_ends_with_a_summary(
    fake_pyenv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "project").mkdir()
    registered: list[tuple[object, tuple[object, ...]]] = []
    monkeypatch.setattr(atexit, "register", lambda func, *args: registered.append((func, args)))
    noxfile = _load_noxfile(tmp_path / "project", monkeypatch, ci=False)
    assert noxfile.nox.options.error_on_missing_interpreters is False
    assert registered == [(noxfile._missing_summary, (["3.11", "3.13"],))]
    noxfile._missing_summary(noxfile.MISSING_PYTHONS)
    err = capsys.readouterr().err
    assert "Python 3.11, 3.13 not found" in err
    assert "pyenv install 3.11 3.13" in err
    assert "not the whole matrix" in err
    assert "CI=true" in err


def test_the_summary_is_printed_when_nox_exits(fake_pyenv: Path, tmp_path: Path) -> None:
    """``nox -l`` outside CI with pythons missing ends with the summary on stderr."""
    import subprocess

    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "noxfile.py", project / "noxfile.py")
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    env = {**os.environ, "CI": ""}
    done = subprocess.run(
        [sys.executable, "-m", "nox", "-l"], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.rstrip().splitlines()[-1].startswith("  Install it with `pyenv install 3.11 3.13`")
