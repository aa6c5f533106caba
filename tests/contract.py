"""Contract tests (``nox -s contract``): each served app answers exactly what its OpenAPI document says.

The AIOM demo (fake Odoo upstream, offline AI stand-in, SQLite) and ``examples/fastapi_app.py``
run under REAL uvicorn subprocesses on free loopback ports; ``schemathesis run --checks all``
tests each with a fixed seed and a bounded number of examples. Any failure fails the session.

    python -m tests.contract [--max-examples 50] [--seed 20261203]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.examples.aiom_server import ROOT, Upstream, aiom_server, clean_environment, fake_upstreams
from tests.servers import free_port, wait_for_port
from tests.uvicorn_server import ThreadServer

__all__ = ("main", "run_schemathesis")

# Limits high enough that the generated requests test the endpoints, not only the 429
# (the 429 and its headers are checked against the document in tests/test_openapi.py).
GENEROUS_LIMITS = {"HARDENING_RATE_LIMIT__DEFAULT_LIMITS": "100000/minute", "AI_RATE_LIMIT": "100000/minute"}


def _schemathesis() -> str:
    beside = Path(sys.executable).with_name("schemathesis")
    found = str(beside) if beside.exists() else shutil.which("schemathesis")
    if found is None:
        msg = "schemathesis is not installed: nox -s contract installs it (the contract dependency group)"
        raise SystemExit(msg)
    return found


def run_schemathesis(name: str, url: str, *, seed: int, max_examples: int) -> bool:
    """Run ``schemathesis run --checks all`` on ``url``; print its summary lines; return success."""
    args = [
        _schemathesis(), "run", f"{url}/openapi.json", "--checks", "all", "--seed", str(seed),
        "--max-examples", str(max_examples), "--generation-database", "none", "--no-color",
        "--request-timeout", "10",
    ]  # fmt: skip
    print(f"== {name}: {' '.join(args[1:])}", flush=True)
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    lines = done.stdout.splitlines()
    failed = done.returncode != 0
    print("\n".join(lines if failed else [line for line in lines if _summary(line)]), flush=True)
    if done.stderr.strip():
        print(done.stderr, file=sys.stderr)
    print(f"== {name}: {'FAILED' if failed else 'passed'} (schemathesis exit {done.returncode})", flush=True)
    return not failed


def _summary(line: str) -> bool:
    text = line.strip()
    keys = ("Operations:", "generated", "passed", "failed", "Seed:", "Rate limited", "Tested:", "Selected:")
    return any(key in text for key in keys) or text.startswith(("❌", "⚠"))


@contextmanager
def fastapi_example(workdir: Path) -> Iterator[str]:
    """Serve ``examples.fastapi_app:app`` under uvicorn on a free loopback port."""
    port = free_port()
    args = [
        sys.executable, "-m", "uvicorn", "examples.fastapi_app:app", "--app-dir", str(ROOT),
        "--host", "127.0.0.1", "--port", str(port), "--no-server-header", "--no-access-log",
    ]  # fmt: skip
    log = (workdir / "fastapi.log").open("wb")
    env = clean_environment(GENEROUS_LIMITS)
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        wait_for_port(port, 30, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(15)
        log.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve both apps in turn and run schemathesis on each; 0 when both pass."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--max-examples", type=int, default=50)
    args = parser.parse_args(argv)
    results: dict[str, bool] = {}
    with tempfile.TemporaryDirectory(prefix="hardening-contract-") as tmp:
        workdir = Path(tmp)
        with ThreadServer(fake_upstreams(Upstream())) as odoo:
            env = {**GENEROUS_LIMITS, "ODOO_URL": odoo.url}
            with aiom_server(workdir, env) as aiom:
                results["AIOM"] = run_schemathesis("AIOM", aiom.url, seed=args.seed, max_examples=args.max_examples)
                log = aiom.log()
        if "Traceback" in log:
            print("== AIOM: the server logged a traceback:\n" + log, file=sys.stderr)
            results["AIOM server log"] = False
        with fastapi_example(workdir) as url:
            results["FastAPI example"] = run_schemathesis(
                "FastAPI example", url, seed=args.seed, max_examples=args.max_examples
            )
    print("contract:", ", ".join(f"{name} {'passed' if ok else 'FAILED'}" for name, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
