"""Experiments benchmark: the quickstart's wall time, and regret against evaluations on sim_workflow.

sim_workflow's optimum is known exactly, so each run's **regret** after every generation (the
optimum minus the true utility of the team selected on the valid split so far) can be plotted
against the number of distinct teams evaluated, for evoforum (mu + lambda) and random search at
the same budget, averaged over seeds. Prints one JSON object.

    python benchmarks/experiments.py [--seeds 5] [--skip-quickstart]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from evoforum.config import load_config
from evoforum.evolve import read_lineage
from evoforum.run import run_experiment

ROOT = Path(__file__).resolve().parents[1]


def _experiments_importable() -> None:
    """Run as a script, this file's folder comes first on the path and its name (experiments.py)
    would hide the ``experiments`` package: put the repository root there instead."""
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(ROOT))
    sys.modules.pop("experiments", None)


def _sim() -> Any:
    import importlib

    return importlib.import_module("experiments.sim_workflow")


def regret_curve(out: Path) -> list[tuple[int, float]]:
    """(distinct teams evaluated, regret of the best-so-far on valid) after each generation."""
    sim = _sim()
    genomes = {}
    for line in (out / "genomes.jsonl").read_bytes().splitlines():
        row = orjson.loads(line)
        genomes[row["hash"]] = orjson.loads(row["json"])
    optimum, _ = sim.optimum()
    records = read_lineage(out / "lineage.jsonl")
    seen: set[str] = set()
    best: tuple[float, str] | None = None
    curve = []
    for generation in sorted({r.generation for r in records}):
        for record in (r for r in records if r.generation == generation):
            seen.add(record.genome_hash)
            if best is None or record.values[0] > best[0]:
                best = (record.values[0], record.genome_hash)
        assert best is not None
        data = genomes[best[1]]
        team = sim.Team(tuple(data["solvers"]), data["verifier"], data["aggregation"])
        curve.append((len(seen), optimum - sim.true_utility(team)))
    return curve


async def sim_runs(seeds: int, folder: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"optimum": _sim().optimum()[0]}
    for kind in ("mu_plus_lambda", "random_search"):
        curves = []
        for seed in range(seeds):
            config = load_config(
                ROOT / "configs" / "sim_workflow.yaml", [f"algorithm.kind={kind}", f"seed={seed}"]
            )
            out = folder / f"{kind}-{seed}"
            await run_experiment(config, out)
            curves.append(regret_curve(out))
        length = min(len(c) for c in curves)
        result[kind] = {
            "evaluations": [round(statistics.mean(c[i][0] for c in curves), 1) for i in range(length)],
            "mean_regret": [round(statistics.mean(c[i][1] for c in curves), 4) for i in range(length)],
            "final_regret_per_seed": [round(c[-1][1], 4) for c in curves],
        }
    return result


def quickstart(folder: Path) -> dict[str, Any]:
    out = folder / "quickstart"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "evoforum", "run", "configs/quickstart.yaml", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "EVOFORUM_STATE_DIR": str(folder / "state")},
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:], "wall_s": wall}
    summary = orjson.loads((out / "summary.json").read_bytes())
    return {
        "wall_s": round(wall, 1),
        "run_wall_s": round(summary["wall_s"], 1),
        "llm_calls": summary["llm_calls"],
        "llm_tokens": summary["llm_tokens"],
        "llm_cache_hits": summary["llm_cache_hits"],
        "evaluations": summary["evaluations"],
        "valid_score": summary["best"]["valid_score"],
        "test_score": summary["best"]["test_score"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--skip-quickstart", action="store_true")
    args = parser.parse_args()
    _experiments_importable()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    with tempfile.TemporaryDirectory(prefix="evoforum-bench-") as tmp:
        folder = Path(tmp)
        figures: dict[str, Any] = {"machine_cpus": os.cpu_count()}
        if not args.skip_quickstart:
            figures["quickstart"] = quickstart(folder)
        figures["sim_workflow"] = asyncio.run(sim_runs(args.seeds, folder))
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
