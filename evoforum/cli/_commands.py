"""The experiment commands: run, resume, export, lineage, show.

Each takes the parsed arguments and returns an exit status; bad input raises ``UsageError``
(the entry point prints one line and exits with 2).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from functools import partial
from pathlib import Path
from typing import Any

from evoforum.cli._signals import run_stoppable


def _quiet() -> None:
    """Keep stderr for evoforum's progress line: vendor loggers say only warnings."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    for name in ("mlflow", "alembic", "ray"):
        logging.getLogger(name).setLevel(logging.WARNING)


def run_command(args: argparse.Namespace) -> int:
    from evoforum.config import load_config
    from evoforum.run import run_experiment

    config = load_config(args.config, args.overrides)
    _quiet()
    out = Path(args.out)
    summary = run_stoppable(
        run_experiment(config, out, state_dir=args.state_dir, progress=args.progress),
        stopped=partial(_stopped, out),
    )
    _report(summary, out)
    return 0


def resume_command(args: argparse.Namespace) -> int:
    from evoforum.run import RunFolder, resume_experiment

    out = Path(args.out)
    if (out / RunFolder.SUMMARY).exists():
        print(f"evoforum: {out} is finished already ({RunFolder.SUMMARY})", file=sys.stderr)
        return 0
    _quiet()
    summary = run_stoppable(
        resume_experiment(out, state_dir=args.state_dir, progress=args.progress),
        stopped=partial(_stopped, out),
    )
    _report(summary, out)
    return 0


def _stopped(out: Path) -> str:
    """What to tell the user of a run a signal stopped."""
    from evoforum.run import RunFolder

    if RunFolder(out).holds_run():
        return f"interrupted; 'evoforum resume {out}' continues the run"
    return "interrupted before the run started"


def _report(summary: dict[str, Any], out: Path) -> None:
    best = summary["best"]
    line = (
        f"best {best['genome_hash'][:12]}  valid {_num(best['valid_score'])}  test {_num(best['test_score'])}"
        f"  evaluations {summary['evaluations']}  llm {summary['llm_calls']} calls"
        f"  {summary['wall_s']:.0f}s"
    )
    for name, baseline in summary.get("baselines", {}).items():
        line += f"  | {name} test {_num(baseline['test_score'])}"
    print(line)
    print(
        f"winner: {out / 'winner.py'}   summary: {out / 'summary.json'}   mlflow: {summary['mlflow']['tracking_uri']}"
    )
    from evoforum.tracking.mlflow_sink import browse_hint

    hint = browse_hint(out)
    if hint is not None:
        print(f"browse: {hint}")


def _num(value: float | None) -> str:
    return "failed" if value is None else f"{value:.4g}"


def export_command(args: argparse.Namespace) -> int:
    from evoforum.run import winner_source

    source = winner_source(Path(args.out))
    if args.output:
        Path(args.output).write_text(source, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(source)
    return 0


def lineage_command(args: argparse.Namespace) -> int:
    from evoforum.run import lineage_rows

    for row in lineage_rows(Path(args.out)):
        print(
            f"gen {row['generation']:>3}  {row['operator']:<24} fitness {row['fitness']:<10}"
            f"  run {row['run_id'] or '-':<32}  transcript {row['transcript'] or '-'}  genome {row['genome'][:12]}"
        )
    return 0


def show_command(args: argparse.Namespace) -> int:
    from evoforum.run import show_conversation

    text = asyncio.run(show_conversation(args.hash, Path(args.out) if args.out else None, args.state_dir))
    sys.stdout.write(text)
    return 0
