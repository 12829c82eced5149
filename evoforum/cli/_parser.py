"""The argument parser: subcommands and flags of the command-line contract."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from evoforum.errors import UsageError


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one clear line and exit status 2 (via ``UsageError``)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            print(message, file=sys.stderr, end="")
        raise SystemExit(status)


def _progress_flags(parser: argparse.ArgumentParser) -> None:
    """How a run shows its progress on stderr (``args.progress``: auto, quiet or json)."""
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument(
        "--quiet",
        dest="progress",
        action="store_const",
        const="quiet",
        default="auto",
        help="no progress output",
    )
    shown.add_argument(
        "--json-progress",
        dest="progress",
        action="store_const",
        const="json",
        help="progress as one JSON object per line on stderr",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="evoforum", description="Evolve LLM multi-agent workflows.")
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        help="folder of the embedded services' state (default: $EVOFORUM_STATE_DIR or ./.evoforum)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    run = commands.add_parser("run", help="run an experiment from a YAML config")
    run.add_argument("config", metavar="CONFIG", help="experiment config (YAML)")
    run.add_argument("--out", metavar="DIR", required=True, help="output folder of the run")
    run.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY.PATH=VALUE",
        action="append",
        default=[],
        help="override one config value (repeatable)",
    )
    _progress_flags(run)

    resume = commands.add_parser("resume", help="continue a killed run from its output folder")
    resume.add_argument("out", metavar="DIR", help="output folder of the run")
    _progress_flags(resume)

    export = commands.add_parser("export", help="write a run's winner as a Python module")
    export.add_argument("out", metavar="DIR", help="output folder of the run")
    export.add_argument("-o", "--output", metavar="FILE", help="where to write it (default: standard output)")

    lineage = commands.add_parser("lineage", help="the winner's ancestry, one line per ancestor")
    lineage.add_argument("out", metavar="DIR", help="output folder of the run")

    show = commands.add_parser("show", help="print the conversation a message-tree hash names")
    show.add_argument("hash", metavar="HASH", help="a message hash (a unique prefix is enough)")
    show.add_argument("--out", metavar="DIR", help="output folder of the run whose store holds it")

    services = commands.add_parser("services", help="embedded NATS, PostgreSQL (+pgvector) and local LLM")
    actions = services.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    for name, text in [
        ("up", "start the services (idempotent)"),
        ("down", "stop what 'up' started; data is kept"),
        ("status", "each service's URL and health"),
        ("destroy", "stop the services and delete their data"),
    ]:
        action = actions.add_parser(name, help=text)
        action.add_argument(
            "--only",
            metavar="NAME",
            action="append",
            choices=["nats", "postgres", "llm"],
            help="limit to one service (repeatable)",
        )
        action.add_argument(
            "--state-dir", metavar="DIR", default=argparse.SUPPRESS, help="as the global flag"
        )
    return parser
