"""``import hardening`` time next to ``import starlette`` (fresh interpreter each time)."""

from __future__ import annotations

import statistics
import subprocess
import sys
from typing import Any


def _import_ms(module: str, repeats: int) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
    samples = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout) for _ in range(repeats)]  # fmt: skip
    return statistics.median(samples)


def run(*, repeats: int = 7) -> list[dict[str, Any]]:
    rows = []
    for module in ("starlette", "starlette.applications", "hardening"):
        ms = _import_ms(module, repeats)
        rows.append({"module": module, "import_ms": round(ms, 1)})
        print(f"  import {module:<24} {ms:7.1f} ms", flush=True)
    return rows
