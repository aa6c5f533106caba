"""Instructions per request, counted by callgrind: ``python bench/instructions.py [APP ...]``.

Wall-clock figures on a shared 2-core machine move by several microseconds from run to
run; the number of instructions a request executes does not. Each app is run under
``valgrind --tool=callgrind`` twice, with ``N`` and ``3 N`` requests after the same
warm-up, and the difference divided by ``2 N`` is what one request costs, start-up
excluded. Use it to judge an optimisation; report speed with ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _child(app_name: str, n: int, browser: bool) -> None:
    from bench.apps import apps, hardened_without, prepare
    from bench.inprocess import BROWSER_HEADERS, HEADERS, _drive

    headers = BROWSER_HEADERS if browser else HEADERS

    if app_name.startswith("without:"):  # the full stack less one layer
        app = hardened_without(app_name.removeprefix("without:"))
        prepare("hardening: full stack")
    else:
        app = apps()[app_name]()
        prepare(app_name)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(_drive(app, 300, headers))
    loop.run_until_complete(_drive(app, n, headers))
    loop.close()


def _count(app_name: str, n: int, browser: bool) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__,
             "--child", app_name, "-n", str(n), *(["--browser"] if browser else [])],
            check=True, capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},  # the same dict layouts, so the same count, each run
        )  # fmt: skip
        match = re.search(r"^summary:\s*(\d+)", out.read_text(errors="replace"), re.MULTILINE)
        if match is None:
            msg = "callgrind wrote no summary line"
            raise RuntimeError(msg)
        return int(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "apps",
        nargs="*",
        default=["bare starlette", "hardening: full stack"],
        help="app names from bench/apps.py, or without:LAYER for the full stack less LAYER",
    )
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("--browser", action="store_true", help="send a browser's request (bench/inprocess.py)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.n, args.browser)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install -y valgrind)")
        return 1
    bare: float | None = None
    for name in args.apps:
        per_request = (_count(name, 3 * args.n, args.browser) - _count(name, args.n, args.browser)) / (2 * args.n)
        if bare is None:
            bare = per_request
        extra = (per_request - bare) / 1000
        print(f"  {name:<40} {per_request / 1000:9.1f} k instructions  +{extra:8.1f} k", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
