"""Entry point: parse, dispatch, and turn errors into one clear line and an exit status."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from evoforum.cli._parser import build_parser
from evoforum.errors import EvoforumError, UsageError

Command = Callable[[argparse.Namespace], int]


def _command(name: str) -> Command:
    if name == "services":
        from evoforum.services.cli import services_command

        command: Command = services_command
        return command
    from evoforum.cli import _commands

    found: Command = getattr(_commands, f"{name}_command")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return _command(args.command)(args)
    except UsageError as error:
        print(f"evoforum: error: {error}", file=sys.stderr)
        return 2
    except EvoforumError as error:
        print(f"evoforum: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as stopped:  # Ctrl-C, or a signal that stopped a run (``Stopped``)
        print(f"evoforum: {stopped or 'interrupted'}", file=sys.stderr)
        return getattr(stopped, "status", 130)
