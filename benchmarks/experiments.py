"""Experiments benchmark: the quickstart's wall time, and regret against evaluations on sim_workflow.

sim_workflow's optimum is known exactly, so each run's **regret** after every generation (the
optimum minus the true utility of the engine's winner at that point, chosen on the valid split)
can be plotted against the item evaluations spent, for evoforum (mu + lambda), random search and
best-of-N at the same budget (``budget.evaluations``; a generation that ends past a checkpoint
does not count for it). Per checkpoint: the mean regret over seeds with its standard error and a
95% confidence interval (Student t), and the paired difference evolution - random search (same
seeds). Prints one JSON object.

    python benchmarks/experiments.py [--seeds 10] [--skip-quickstart] [--set key=value ...]
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
from evoforum.evolve import load_checkpoint
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
    """(item evaluations spent, regret of the engine's winner) after each generation."""
    sim = _sim()
    genomes = {}
    for line in (out / "genomes.jsonl").read_bytes().splitlines():
        row = orjson.loads(line)
        genomes[row["hash"]] = orjson.loads(row["json"])
    optimum, _ = sim.optimum()
    state = load_checkpoint(out)
    assert state is not None
    curve = []
    for stats in state["history"]:
        data = genomes[stats.best_hash]
        data = data.get("base", data)  # best_of_n: a sample of the seed team
        team = sim.Team(tuple(data["solvers"]), data["verifier"], data["aggregation"])
        curve.append((stats.jobs, optimum - sim.true_utility(team)))
    return curve


def regret_at(curve: list[tuple[int, float]], budget: int) -> float:
    """The regret of the last generation finished within ``budget`` item evaluations."""
    within = [regret for spent, regret in curve if spent <= budget]
    return within[-1] if within else curve[0][1]


# two-sided 95% quantiles of Student's t by degrees of freedom (beyond 30: the normal's)
_T95 = {1: 12.71, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
        10: 2.228, 11: 2.201, 12: 2.179, 13: 2.16, 14: 2.145, 15: 2.131, 16: 2.12, 17: 2.11,
        18: 2.101, 19: 2.093, 20: 2.086, 25: 2.06, 30: 2.042}  # fmt: skip


def mean_ci(values: list[float]) -> dict[str, float]:
    """Mean, standard error and 95% confidence interval of ``values``."""
    mean = statistics.mean(values)
    if len(values) < 2:
        return {"mean": round(mean, 4), "stderr": 0.0, "ci95": [round(mean, 4), round(mean, 4)]}
    stderr = statistics.stdev(values) / len(values) ** 0.5
    df = len(values) - 1
    t = _T95.get(df) or (_T95[max(k for k in _T95 if k <= df)] if df <= 30 else 1.96)
    return {
        "mean": round(mean, 4),
        "stderr": round(stderr, 4),
        "ci95": [round(mean - t * stderr, 4), round(mean + t * stderr, 4)],
    }


KINDS = ("mu_plus_lambda", "random_search", "best_of_n")


async def sim_runs(seeds: int, budget: int, folder: Path, extra: list[str]) -> dict[str, Any]:
    """Each algorithm with the same budget of item evaluations (``budget.evaluations``) and the
    same evaluation settings (``extra`` overrides go to every run)."""
    checkpoints = [budget * share // 100 for share in (10, 25, 50, 75, 100)]
    result: dict[str, Any] = {
        "optimum": _sim().optimum()[0],
        "budget_item_evaluations": budget,
        "seeds": seeds,
        "overrides": extra,
        "item_evaluations": checkpoints,
    }
    curves: dict[str, list[list[tuple[int, float]]]] = {}
    for kind in KINDS:
        curves[kind] = []
        for seed in range(seeds):
            overrides = [f"algorithm.kind={kind}", f"seed={seed}", f"budget.evaluations={budget}"]
            overrides += [*extra]
            config = load_config(ROOT / "configs" / "sim_workflow.yaml", overrides)
            out = folder / f"{kind}-{seed}"
            await run_experiment(config, out)
            curves[kind].append(regret_curve(out))
        per_budget = [[regret_at(c, b) for c in curves[kind]] for b in checkpoints]
        result[kind] = {
            "regret": [mean_ci(values) for values in per_budget],
            "final_regret_per_seed": [round(v, 4) for v in per_budget[-1]],
        }
    evolution, random_search = curves["mu_plus_lambda"], curves["random_search"]
    paired = [
        [regret_at(e, b) - regret_at(r, b) for e, r in zip(evolution, random_search, strict=True)]
        for b in checkpoints
    ]
    result["evolution_minus_random"] = {
        "regret_difference": [mean_ci(values) for values in paired],
        "final_seeds_evolution_better": sum(d < 0 for d in paired[-1]),
        "final_seeds_tied": sum(d == 0 for d in paired[-1]),
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
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=12000, help="item evaluations per sim run")
    parser.add_argument("--skip-quickstart", action="store_true")
    parser.add_argument("--set", action="append", default=[], help="a config override for every sim run")
    args = parser.parse_args()
    _experiments_importable()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    with tempfile.TemporaryDirectory(prefix="evoforum-bench-") as tmp:
        folder = Path(tmp)
        figures: dict[str, Any] = {"machine_cpus": os.cpu_count()}
        if not args.skip_quickstart:
            figures["quickstart"] = quickstart(folder)
        figures["sim_workflow"] = asyncio.run(sim_runs(args.seeds, args.budget, folder, args.set))
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
