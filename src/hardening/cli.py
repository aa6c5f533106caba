"""The ``hardening`` command (stdlib ``argparse``, no extra dependency).

Subcommands register themselves in :data:`SUBCOMMANDS`; each capability that adds a
command (``env``, ``audit``) contributes one ``(name, help, add_arguments, run)`` entry.
Exit codes: 0 clean, 1 problems found at or above the fail level, 2 usage errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

__all__ = ("main",)

AddArguments = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], int]


def _subcommands() -> list[tuple[str, str, AddArguments, Run]]:
    """Return the registered subcommands; imported lazily so ``--help`` stays fast."""
    from hardening import _cli_audit, _cli_env

    return [
        ("env", "validate, explain or document environment settings", _cli_env.add_arguments, _cli_env.run),
        ("audit", "probe a service and report what production still needs", _cli_audit.add_arguments, _cli_audit.run),
    ]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="hardening", description="Production hardening for ASGI services.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text, add_arguments, run in _subcommands():
        command = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(command)
        command.set_defaults(_run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hardening`` command and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from hardening import __version__

        print(__version__)
        return 0
    run: Run | None = getattr(args, "_run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    return run(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
