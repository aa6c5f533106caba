"""Developer and CI sessions. ``nox`` alone runs lint, typecheck, tests, tests_minimal, docs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests", "tests_minimal", "docs"]

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
PROJECT = nox.project.load_toml("pyproject.toml")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# A missing interpreter is an error in CI, never a silent skip.
nox.options.error_on_missing_interpreters = IN_CI
ROOT = Path(__file__).parent


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PROJECT, name))


def _pytest(session: nox.Session, *args: str) -> None:
    """Run pytest; exit code 5 (no test collected) is a failure, as every non-zero is."""
    session.run(
        "python", "-m", "pytest", "--cov", "--cov-branch", "--cov-report=term:skip-covered",
        *args, *session.posargs, env={"COVERAGE_FILE": f".coverage.{session.name}"},
    )  # fmt: skip


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the whole test suite with every extra installed (real Redis, PostgreSQL, Chromium)."""
    session.install("-e", ".[all]", *_group("test"))
    # Branch coverage of src is 95 %; the floor keeps it from sliding (raise it, never lower it).
    _pytest(session, "--cov-fail-under=93")


@nox.session(python="3.11")
def tests_minimal(session: nox.Session) -> None:
    """Run the suite with no extras: the library must import and its core must work."""
    # uvicorn and FastAPI are test tools (real servers, FastAPI handlers), not hardening extras.
    session.install("-e", ".", "pytest", "pytest-cov", "anyio", "hypothesis", "httpx", "uvicorn", "fastapi")
    _pytest(session, "-m", "not needs_extras and not redis and not postgres and not browser and not e2e")


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff."""
    session.install(*_group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """Run mypy --strict on src and tests."""
    session.install("-e", ".[all]", *_group("typecheck"))
    session.run("mypy", "src", "tests", "noxfile.py")


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """Build the documentation site with --strict (warnings are errors)."""
    session.install("-e", ".[all]", *_group("docs"))
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session(python="3.11")
def demo(session: nox.Session) -> None:
    """Install and start the AIOM example service on http://127.0.0.1:8000."""
    session.install("-e", ".[all]", "uvicorn", "sqlalchemy[asyncio]", "aiosqlite", "asyncpg", "httpx", "redis")
    demo_script = ROOT / "examples" / "aiom" / "run_demo.py"
    if demo_script.exists():
        session.run("python", str(demo_script), *session.posargs)
        return
    session.log("The AIOM example is not available yet; serving examples/minimal_starlette.py instead.")
    session.run(
        "python", "-m", "uvicorn", "examples.minimal_starlette:app", "--host", "127.0.0.1", "--port", "8000",
        "--no-server-header",
    )  # fmt: skip


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Run the benchmarks in bench/ and print the tables (they report, they never gate)."""
    session.install("-e", ".[all]", *_group("bench"))
    if shutil.which("wrk") is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        # wrk is the load generator of the uvicorn part; without it a Python client is used.
        session.run("apt-get", "update", "-qq", external=True, success_codes=[0, 100])
        session.run("apt-get", "install", "-y", "-qq", "wrk", external=True, success_codes=[0, 100])
    runner = ROOT / "bench" / "run.py"
    if not runner.exists():
        session.log("Benchmarks are not available yet (bench/run.py does not exist).")
        return
    session.run("python", str(runner), *session.posargs)
