"""``hardening env check|explain|example MODULE:SettingsClass``.

Exit codes: 0 clean, 1 problems at or above the fail level, 2 usage errors (bad target,
import failure, missing ``--env-file``): one clear line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from pydantic_settings import BaseSettings

from hardening.redaction import redact_text

__all__ = ("add_arguments", "run")


class UsageError(Exception):
    """A usage problem, reported in one line with exit code 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``env`` subcommands to ``parser``."""
    sub = parser.add_subparsers(dest="env_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate settings and run the production rules")
    explain = sub.add_parser("explain", help="show where each setting comes from (values masked)")
    example = sub.add_parser("example", help="print a .env.example for a settings class")
    for command in (check, explain, example):
        command.add_argument(
            "target",
            nargs="?",
            default="hardening.settings:HardeningSettings",
            help="MODULE:SettingsClass (default: hardening.settings:HardeningSettings)",
        )
    for command in (check, explain):
        command.add_argument("--env-file", action="append", default=None, help="a .env file (repeatable)")
        command.add_argument("--secrets-dir", action="append", default=None, help="a secrets directory")
        command.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument("--fail-level", choices=("info", "warning", "error"), default="error")
    check.add_argument("--silence", action="append", default=[], metavar="RULE_ID", help="silence a rule")


def _load_target(target: str) -> type[BaseSettings]:
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        msg = f"target must look like MODULE:SettingsClass, got {target!r}"
        raise UsageError(msg)
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or ["no message"])[0]
        msg = f"cannot import module {module_name!r} ({type(exc).__name__}: {redact_text(first)[:300]})"
        raise UsageError(msg) from None
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseSettings)):
        msg = f"{target!r} is not a settings class (a pydantic-settings BaseSettings subclass)"
        raise UsageError(msg)
    return cls


def run(args: argparse.Namespace) -> int:
    """Run ``hardening env ...``; return the exit code."""
    from hardening.settings.loader import check_settings, env_example, explain

    try:
        cls = _load_target(args.target)
        if args.env_command == "example":
            sys.stdout.write(env_example(cls))
            return 0
        for env_file in args.env_file or ():
            if not Path(env_file).is_file():
                msg = f"--env-file {env_file!r} does not exist"
                raise UsageError(msg)
    except UsageError as exc:
        print(f"hardening env: error: {exc}", file=sys.stderr)
        return 2
    if args.env_command == "explain":
        explanation = explain(cls, env_file=args.env_file, secrets_dir=args.secrets_dir)
        print(explanation.to_json() if args.format == "json" else explanation.text())
        return 1 if explanation.report.failed_to_load else 0
    report = check_settings(cls, env_file=args.env_file, secrets_dir=args.secrets_dir, silence=args.silence)
    print(report.to_json() if args.format == "json" else report.text())
    return 1 if report.failed(args.fail_level) else 0
