"""``hardening audit TARGET``: probe a service and report what production still needs.

Exit codes: 0 no finding at or above ``--fail-level``, 1 findings at or above it, 2 the
audit could not run (bad target, import failure, lifespan failure, no answer): one line
on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

__all__ = ("add_arguments", "run")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``audit`` arguments to ``parser``."""
    parser.add_argument(
        "target", help="MODULE:APP (probed in-process, no network; like uvicorn's) or an http(s):// URL"
    )
    parser.add_argument(
        "--factory",
        action="store_true",
        help="MODULE:APP names an app factory to call (a zero-argument callable is detected anyway)",
    )
    parser.add_argument(
        "--settings", metavar="MODULE:SettingsClass", help="also check these settings (environment report, rules)"
    )
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    parser.add_argument(
        "--fail-level", choices=("p0", "p1", "p2"), default="p1", help="lowest priority that fails (default p1)"
    )
    parser.add_argument("--output", metavar="FILE", help="write the report here (stdout gets the summary)")
    parser.add_argument("--no-burst", action="store_true", help="skip the rate-limit burst")
    parser.add_argument("--burst-path", metavar="PATH", help="where the burst goes (default: --path)")
    parser.add_argument("--burst-max", type=int, default=200, metavar="N", help="most requests in the burst")
    parser.add_argument("--path", default="/", help="the page graded for headers (default /)")
    parser.add_argument(
        "--host",
        help="the Host the service answers (default: from --settings, else the app's trusted hosts, else testserver)",
    )
    parser.add_argument("--origin", help="a CORS origin the service allows (default: from --settings)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per request (default 5)")


def _load_settings(target: str) -> Any:
    from pydantic import BaseModel

    from hardening.audit import AuditError, load_app

    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        msg = f"--settings must look like MODULE:SettingsClass, got {target!r}"
        raise AuditError(msg)
    try:
        value = load_app(target)
    except AuditError as exc:
        if module_name not in sys.modules:  # the import failed: say why, not "not a settings class"
            msg = f"--settings {target!r}: {exc}"
            raise AuditError(msg) from None
        value = None
    if not (isinstance(value, type) and issubclass(value, BaseModel)):
        msg = f"--settings {target!r} is not a settings class (a pydantic-settings BaseSettings subclass)"
        raise AuditError(msg)
    return value


class _ProgressLine:
    """A one-line progress indicator on a terminal; silent when not a TTY."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.active = stream.isatty()

    def __call__(self, step: int, total: int, label: str) -> None:
        if self.active:
            self.stream.write(f"\r\033[K[{step}/{total}] probing {label}...")
            self.stream.flush()

    def clear(self) -> None:
        if self.active:
            self.stream.write("\r\033[K")
            self.stream.flush()


def run(args: argparse.Namespace) -> int:
    """Run ``hardening audit``; return the exit code."""
    from hardening.audit import AuditError, audit, render, render_text
    from hardening.errors import MissingDependencyError

    progress = _ProgressLine(sys.stderr)
    try:
        settings = _load_settings(args.settings) if args.settings else None
        report = audit(
            args.target,
            settings=settings,
            host=args.host,
            origin=args.origin,
            path=args.path,
            burst=not args.no_burst,
            burst_path=args.burst_path,
            burst_max=args.burst_max,
            request_timeout=args.timeout,
            progress=progress,
            factory=args.factory,
        )
    except (AuditError, MissingDependencyError) as exc:
        progress.clear()
        print(f"hardening audit: error: {exc}", file=sys.stderr)
        return 2
    progress.clear()
    text = render(report, args.format, args.fail_level)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(render_text(report, args.fail_level))
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return report.exit_code(args.fail_level)
