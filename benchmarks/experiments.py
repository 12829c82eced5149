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
    """(item evaluations spent, regret of the best-so-far on valid) after each generation."""
    sim = _sim()
    genomes = {}
    for line in (out / "genomes.jsonl").read_bytes().splitlines():
        row = orjson.loads(line)
        genomes[row["hash"]] = orjson.loads(row["json"])
    optimum, _ = sim.optimum()
    jobs = {h["generation"]: h["jobs"] for h in orjson.loads((out / "summary.json").read_bytes())["history"]}
    records = read_lineage(out / "lineage.jsonl")
    best: tuple[float, str] | None = None
    curve = []
    for generation in sorted({r.generation for r in records}):
        for record in (r for r in records if r.generation == generation):
            if best is None or record.values[0] > best[0]:
                best = (record.values[0], record.genome_hash)
        assert best is not None
        data = genomes[best[1]]
        data = data.get("base", data)  # best_of_n: a sample of the seed team
        team = sim.Team(tuple(data["solvers"]), data["verifier"], data["aggregation"])
        curve.append((jobs[generation], optimum - sim.true_utility(team)))
    return curve


def regret_at(curve: list[tuple[int, float]], budget: int) -> float:
    """The regret of the last generation finished within ``budget`` item evaluations."""
    within = [regret for spent, regret in curve if spent <= budget]
    return within[-1] if within else curve[0][1]


async def sim_runs(seeds: int, budget: int, folder: Path) -> dict[str, Any]:
    """Each algorithm with the same budget of item evaluations (``budget.evaluations``)."""
    checkpoints = [budget * share // 100 for share in (10, 25, 50, 75, 100)]
    result: dict[str, Any] = {"optimum": _sim().optimum()[0], "budget_item_evaluations": budget}
    for kind in ("mu_plus_lambda", "random_search", "best_of_n"):
        curves = []
        for seed in range(seeds):
            overrides = [f"algorithm.kind={kind}", f"seed={seed}", f"budget.evaluations={budget}"]
            overrides.append("algorithm.generations=200")
            config = load_config(ROOT / "configs" / "sim_workflow.yaml", overrides)
            out = folder / f"{kind}-{seed}"
            await run_experiment(config, out)
            curves.append(regret_curve(out))
        result[kind] = {
            "item_evaluations": checkpoints,
            "mean_regret": [round(statistics.mean(regret_at(c, b) for c in curves), 4) for b in checkpoints],
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
    parser.add_argument("--budget", type=int, default=12000, help="item evaluations per sim run")
    parser.add_argument("--skip-quickstart", action="store_true")
    args = parser.parse_args()
    _experiments_importable()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    with tempfile.TemporaryDirectory(prefix="evoforum-bench-") as tmp:
        folder = Path(tmp)
        figures: dict[str, Any] = {"machine_cpus": os.cpu_count()}
        if not args.skip_quickstart:
            figures["quickstart"] = quickstart(folder)
        figures["sim_workflow"] = asyncio.run(sim_runs(args.seeds, args.budget, folder))
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
