"""Quickstart benchmark: does a typical quickstart run end better than its generation 0? Prints JSON.

Runs ``configs/quickstart.yaml`` once per run seed (``--seeds``), each into ``--out``/s<seed> (a
folder that already holds a finished run is read, not run again), and reports per seed the best
valid score of generation 0 and of the run, whether the final best beats generation 0's, the
winner's operator and test score, the LLM operators' outcome (calls, children, invalid) and the
wall time; then how many seeds improved. The services are the ones ``evoforum run`` finds or
starts for the working folder.

    python benchmarks/quickstart.py [--seeds 5] [--out runs/quickstart-bench] [--set key=value ...] [--note TEXT]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "quickstart.yaml"


def run(out: Path, seed: int, overrides: list[str]) -> float | None:
    """Run the quickstart with ``seed`` into ``out`` unless it already finished there; its wall
    seconds, or None when it was read."""
    if (out / "summary.json").exists():
        return None
    started = time.perf_counter()
    command = [sys.executable, "-m", "evoforum", "run", str(CONFIG), "--out", str(out), f"--set=seed={seed}"]
    subprocess.run([*command, *(f"--set={o}" for o in overrides)], cwd=ROOT, check=True)
    return time.perf_counter() - started


def figures(out: Path, wall_s: float | None) -> dict[str, Any]:
    """What one finished run shows (``wall_s``: measured now, else the run's own)."""
    summary = json.loads((out / "summary.json").read_text())
    lineage = [json.loads(line) for line in (out / "lineage.jsonl").read_text().splitlines() if line]
    first = max(r["values"][0] for r in lineage if r["generation"] == 0 and r.get("values"))
    best = summary["best"]
    llm_ops = {
        name: {key: counts[key] for key in ("calls", "children", "invalid", "unchanged")}
        for name, counts in summary.get("operators", {}).items()
        if name in ("llm_rewrite", "lmx_module", "lmx_code")
    }
    return {
        "generation_0_best": first,
        "final_best": best["valid_score"],
        "improved": best["valid_score"] > first,
        "winner_operator": best.get("operator"),
        "winner_test_score": best.get("test_score"),
        "llm_operators": llm_ops,
        "wall_s": round(wall_s if wall_s is not None else summary["wall_s"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "quickstart-bench")
    parser.add_argument("--set", action="append", default=[], help="a config override for every run")
    parser.add_argument("--note", default="", help="the conditions of the measurement, kept in the JSON")
    args = parser.parse_args()
    runs = {}
    for seed in range(args.seeds):
        out = args.out / f"s{seed}"
        runs[seed] = figures(out, run(out, seed, args.set))
    improved = sum(r["improved"] for r in runs.values())
    print(
        json.dumps({"seeds": args.seeds, "improved": improved, "overrides": args.set, "runs": runs}, indent=2)
    )


if __name__ == "__main__":
    main()
