"""Symbolic regression parity: bare DEAP ``eaSimple`` vs evoforum's engine on DEAP's own problem.

The problem is DEAP's ``examples/gp/symbreg.py``: fit x**4 + x**3 + x**2 + x on 20 points in
[-1, 1) with add/sub/mul/protectedDiv/neg/cos/sin and an ephemeral constant in {-1, 0, 1};
population 300, 40 generations, cxpb 0.5, mutpb 0.1, tournament of 3, genHalfAndHalf(1, 2),
cxOnePoint, mutUniform with genFull(0, 2), height limit 17. Success is an exact fit (MSE <= 1e-9).

Runs (a) bare DEAP with ``creator``/``toolbox`` as in the example and (b) evoforum's engine with
the equivalent seeded operators over ``--seeds`` seeds each, then (c) ``--ray-seeds`` seeds end to
end through one Ray Tune evaluator (two long-lived trials) with JSONL lineage and fsynced
per-generation checkpoints on, each beside the same run evaluated in process with the same
bookkeeping, and the Ray runs again without fsync. Prints one JSON object (with the load average).

    python benchmarks/symbreg.py [--seeds 30] [--quick] [--ray-seeds 5] [--min-batch 1]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import operator
import os
import random
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from deap import algorithms, base, creator, gp, tools

from evoforum.evolve import (
    Engine,
    Generational,
    GPSpace,
    JsonlLineage,
    LocalEvaluator,
    Operators,
    TreeGenome,
)

SOLVED = 1e-9
POINTS = [x / 10.0 for x in range(-10, 10)]
POP, GENERATIONS, CXPB, MUTPB = 300, 40, 0.5, 0.1


def protected_div(left: float, right: float) -> float:
    try:
        return left / right
    except ZeroDivisionError:
        return 1.0


def make_pset() -> gp.PrimitiveSet:
    pset = gp.PrimitiveSet("MAIN", 1)
    for function, arity in [
        (operator.add, 2), (operator.sub, 2), (operator.mul, 2), (protected_div, 2),
        (operator.neg, 1), (math.cos, 1), (math.sin, 1),
    ]:  # fmt: skip
        pset.addPrimitive(function, arity)
    pset.addEphemeralConstant("rand101", partial(random.randint, -1, 1))
    pset.renameArguments(ARG0="x")
    return pset


PSET = make_pset()


def mse(function: Any) -> float:
    errors = ((function(x) - x**4 - x**3 - x**2 - x) ** 2 for x in POINTS)
    return math.fsum(errors) / len(POINTS)


# -- (a) bare DEAP, as in its example -------------------------------------------------------------


def deap_toolbox() -> base.Toolbox:
    if not hasattr(creator, "SymbFitnessMin"):
        creator.create("SymbFitnessMin", base.Fitness, weights=(-1.0,))
        creator.create("SymbIndividual", gp.PrimitiveTree, fitness=creator.SymbFitnessMin)
    toolbox = base.Toolbox()
    toolbox.register("expr", gp.genHalfAndHalf, pset=PSET, min_=1, max_=2)
    toolbox.register("individual", tools.initIterate, creator.SymbIndividual, toolbox.expr)
    toolbox.register("population", tools.initRepeat, list, toolbox.individual)
    toolbox.register("evaluate", lambda ind: (mse(gp.compile(ind, PSET)),))
    toolbox.register("select", tools.selTournament, tournsize=3)
    toolbox.register("mate", gp.cxOnePoint)
    toolbox.register("expr_mut", gp.genFull, min_=0, max_=2)
    toolbox.register("mutate", gp.mutUniform, expr=toolbox.expr_mut, pset=PSET)
    limit = gp.staticLimit(key=operator.attrgetter("height"), max_value=17)
    toolbox.decorate("mate", limit)
    toolbox.decorate("mutate", limit)
    return toolbox


def run_deap(seed: int, generations: int) -> dict[str, Any]:
    random.seed(seed)  # bare DEAP draws from the global generator: that is what is compared
    toolbox = deap_toolbox()
    population = toolbox.population(n=POP)
    stats = tools.Statistics(lambda ind: ind.fitness.values[0])
    stats.register("min", min)
    started = time.perf_counter()
    _, log = algorithms.eaSimple(population, toolbox, CXPB, MUTPB, generations, stats=stats, verbose=False)
    wall = time.perf_counter() - started
    solved = [row["gen"] for row in log if row["min"] <= SOLVED]
    return {
        "solved_gen": solved[0] if solved else None,
        "evaluations": sum(log.select("nevals")),
        "wall": wall,
    }


# -- (b) evoforum's engine with the same operators ------------------------------------------------


def evaluate_tree(genome: TreeGenome, item: str, seed: int) -> tuple[float]:
    """The same evaluation as bare DEAP's: ``gp.compile`` (given the expression the genome already
    rendered for its hash, so it is not rendered twice), then the MSE."""
    return (mse(gp.compile(genome.expression, PSET)),)


def engine_for(seed: int, generations: int, evaluator: Any, **extra: Any) -> Engine:
    space = GPSpace(PSET, ephemerals={"rand101": lambda rng: rng.randint(-1, 1)}, init_min=1, init_max=2)
    operators = Operators(init=space.init, mutate=space.mut_uniform, crossover=space.cx_one_point)
    algorithm = Generational(POP, cxpb=CXPB, mutpb=MUTPB, tournsize=3, elitism=0)
    return Engine(
        operators=operators, algorithm=algorithm, evaluator=evaluator, items=["points"],
        weights=(-1.0,), generations=generations, seed=seed, **extra,
    )  # fmt: skip


def run_engine(seed: int, generations: int) -> dict[str, Any]:
    engine = engine_for(seed, generations, LocalEvaluator(evaluate_tree))
    started = time.perf_counter()
    result = asyncio.run(engine.run())
    wall = time.perf_counter() - started
    solved = [s.generation for s in result.history if s.best[0] <= SOLVED]
    return {
        "solved_gen": solved[0] if solved else None, "evaluations": result.evaluations,
        "jobs": result.jobs, "wall": wall,
    }  # fmt: skip


# -- (c) through Ray Tune, with lineage and checkpoints ---------------------------------------------


async def _one(seed: int, generations: int, evaluator: Any, out: Path, durable: bool) -> dict[str, Any]:
    """One engine run with JSONL lineage and per-generation checkpoints into ``out``."""
    os.makedirs(out)
    sink = JsonlLineage(out / "lineage.jsonl")
    try:
        engine = engine_for(seed, generations, evaluator, out_dir=out, lineage=[sink], durable=durable)
        started = time.perf_counter()
        result = await engine.run()
        wall = time.perf_counter() - started
    finally:
        sink.close()
    lines = (out / "lineage.jsonl").read_bytes().count(b"\n")
    return {"evaluations": result.evaluations, "jobs": result.jobs, "wall": wall, "lineage": lines}


def _rate(runs: list[dict[str, Any]]) -> float:
    return round(sum(run["evaluations"] for run in runs) / sum(run["wall"] for run in runs), 1)


async def _through_ray(seeds: int, generations: int, out: Path, min_batch: int) -> dict[str, Any]:
    """``seeds`` runs through one warm Ray Tune evaluator, each followed by the same run evaluated
    in process with the same bookkeeping (the Ray path's own cost is the difference) and by bare
    DEAP on that seed (a comparison under the same load, which moves a lot on a shared machine);
    then the same Ray runs without fsync (checkpoints and lineage still written)."""
    from evoforum.evolve import RayTuneEvaluator

    evaluator = RayTuneEvaluator(evaluate_tree, workers=2, min_batch=min_batch, by_value=True)
    ray_runs, local_runs, loose_runs, deap_runs = [], [], [], []
    try:
        started = time.perf_counter()
        warm = await evaluator.evaluate(_warmup_jobs())  # starts Ray and the worker trials
        startup = time.perf_counter() - started
        local = LocalEvaluator(evaluate_tree)
        for seed in range(seeds):
            ray_runs.append(await _one(seed, generations, evaluator, out / f"ray-{seed}", True))
            local_runs.append(await _one(seed, generations, local, out / f"local-{seed}", True))
            deap_runs.append(run_deap(seed, generations))
        for seed in range(seeds):
            loose_runs.append(await _one(seed, generations, evaluator, out / f"loose-{seed}", False))
    finally:
        await evaluator.aclose()
    return {
        "seeds": seeds, "workers": 2, "min_batch": min_batch,
        "evaluations": sum(run["evaluations"] for run in ray_runs),
        "jobs": sum(run["jobs"] for run in ray_runs),
        "wall_s": round(sum(run["wall"] for run in ray_runs), 3), "evals_per_s": _rate(ray_runs),
        "startup_s": round(startup, 2), "warmup_jobs": len(warm),
        "lineage_records": sum(run["lineage"] for run in ray_runs),
        "in_process_same_bookkeeping_evals_per_s": _rate(local_runs),
        "without_fsync_evals_per_s": _rate(loose_runs),
        "bare_deap_alongside_evals_per_s": _rate(deap_runs),
    }  # fmt: skip


def _warmup_jobs() -> list[Any]:
    from evoforum.evolve import Job

    space = GPSpace(PSET, ephemerals={"rand101": lambda rng: rng.randint(-1, 1)})
    return [Job(space.init(random.Random(i)), "points") for i in range(4)]


# -- report -------------------------------------------------------------------------------------


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score 95 % interval of a success rate."""
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (round(centre - half, 3), round(centre + half, 3))


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    solved = [run["solved_gen"] for run in runs if run["solved_gen"] is not None]
    evaluations = sum(run["evaluations"] for run in runs)
    wall = sum(run["wall"] for run in runs)
    out = {
        "seeds": len(runs), "success_rate": round(len(solved) / len(runs), 3),
        "success_ci95": wilson(len(solved), len(runs)),
        "median_success_generation": statistics.median(solved) if solved else None,
        "evaluations": evaluations, "wall_s": round(wall, 2), "evals_per_s": round(evaluations / wall, 1),
    }  # fmt: skip
    if "jobs" in runs[0]:
        out["jobs_run"] = sum(run["jobs"] for run in runs)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="3 seeds, 10 generations: a smoke run")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray Tune runs")
    parser.add_argument("--ray-seeds", type=int, default=5, help="seeds run through Ray Tune")
    parser.add_argument("--min-batch", type=int, default=1, help="the Ray evaluator's min_batch")
    args = parser.parse_args(argv)
    begun = time.perf_counter()
    seeds, generations = (3, 10) if args.quick else (args.seeds, GENERATIONS)
    deap_runs = [run_deap(seed, generations) for seed in range(seeds)]
    engine_runs = [run_engine(seed, generations) for seed in range(seeds)]
    report: dict[str, Any] = {
        "problem": "deap examples/gp/symbreg.py", "population": POP, "generations": generations,
        "solved_if_mse_le": SOLVED, "deap": summarise(deap_runs), "evoforum": summarise(engine_runs),
        "same_run_as_deap": sum(
            (a["solved_gen"], a["evaluations"]) == (b["solved_gen"], b["evaluations"])
            for a, b in zip(deap_runs, engine_runs, strict=True)
        ),
    }  # fmt: skip
    if not args.no_ray:
        with tempfile.TemporaryDirectory(prefix="symbreg-") as folder:
            ray_run = asyncio.run(_through_ray(args.ray_seeds, generations, Path(folder), args.min_batch))
        deap_rate = report["deap"]["evals_per_s"]
        ray_run["vs_bare_deap"] = round(ray_run["evals_per_s"] / deap_rate, 3)
        ray_run["vs_in_process"] = round(
            ray_run["evals_per_s"] / ray_run["in_process_same_bookkeeping_evals_per_s"], 3
        )
        ray_run["without_fsync_vs_bare_deap"] = round(ray_run["without_fsync_evals_per_s"] / deap_rate, 3)
        ray_run["vs_bare_deap_alongside"] = round(
            ray_run["evals_per_s"] / ray_run["bare_deap_alongside_evals_per_s"], 3
        )
        report["ray_tune"] = ray_run
        report["load_avg"] = [round(value, 2) for value in os.getloadavg()]
    report["benchmark_wall_s"] = round(time.perf_counter() - begun, 1)
    sys.stdout.write(orjson.dumps(report).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
