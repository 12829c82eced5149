"""The reasoning experiment with the local model: the winner beside one call, held out. Prints JSON.

Runs ``configs/reasoning.yaml`` into ``--out`` (or resumes it there, or reads its finished
summary) and writes the figures of its ``summary.json`` that the README reports to
``benchmarks/results/reasoning.json``: the winner's valid and test score, the single call's test
score on the same items, whether the winner is an evolved offspring, tokens, wall time, the
command and the reasoning-gym version. Nothing is measured here that the run did not record.

    python benchmarks/reasoning.py [--out runs/reasoning]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "configs/reasoning.yaml"
RESULT = ROOT / "benchmarks" / "results" / "reasoning.json"
SEEDED = ("init", "random", "sample")
"""Operators of a genome that was not bred (a seed, a random genome, a sample)."""


def run_command(out: Path) -> list[str]:
    """The command that runs the experiment into ``out``."""
    return ["evoforum", "run", CONFIG, "--out", str(out)]


def ensure_run(out: Path) -> dict[str, Any]:
    """The summary of the run in ``out``: read, resumed, or run from the config."""
    summary = out / "summary.json"
    if not summary.exists():
        started = (out / "config.yaml").exists()  # then resume: the model answers are recorded
        command = ["evoforum", "resume", str(out)] if started else run_command(out)
        print("$", " ".join(command), file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", *command], cwd=ROOT, check=True)
    data: dict[str, Any] = json.loads(summary.read_text())
    return data


def report(summary: dict[str, Any], out: Path) -> dict[str, Any]:
    """The compact result of one finished run's ``summary``."""
    best, single = summary["best"], summary["baselines"]["single_call"]
    return {
        "experiment": summary["experiment"],
        "search_space": summary["search_space"],
        "dataset": {
            "package": "reasoning-gym",
            "version": metadata.version("reasoning-gym"),
            "licence": "Apache-2.0",
        },
        "model": "qwen2.5-coder-0.5b-instruct (Q4_K_M, llama-server)",
        "command": " ".join(run_command(out)),
        "splits": summary["splits"],
        "winner": {
            "genome_hash": best["genome_hash"],
            "operator": best["operator"],
            "generation": best["generation"],
            "evolved_offspring": best["operator"] not in SEEDED,
            "valid_score": best["valid_score"],
            "test_score": best["test_score"],
            "test_tokens_per_item": best.get("test_tokens_per_item"),
        },
        "single_call": {
            "genome_hash": single["genome_hash"],
            "test_score": single["test_score"],
            "test_tokens_per_item": single.get("tokens_per_item"),
        },
        "run": {
            "candidates": summary["evaluations"],
            "item_evaluations": summary["item_evaluations"],
            "generations": summary["generations"],
            "llm_calls": summary["llm_calls"],
            "llm_tokens": summary["llm_tokens"],
            "search_llm_tokens": summary.get("search_llm_tokens"),
            "wall_s": summary["wall_s"],
            "stopped": summary.get("stopped"),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs") / "reasoning")
    args = parser.parse_args()
    out = args.out if args.out.is_absolute() else ROOT / args.out
    found = report(ensure_run(out), args.out)
    text = json.dumps(found, indent=2)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
