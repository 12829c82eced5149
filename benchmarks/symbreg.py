"""Symbolic regression parity: bare DEAP ``eaSimple`` vs evoforum's engine on DEAP's own problem.

The problem is DEAP's ``examples/gp/symbreg.py``: fit x**4 + x**3 + x**2 + x on 20 points in
[-1, 1) with add/sub/mul/protectedDiv/neg/cos/sin and an ephemeral constant in {-1, 0, 1};
population 300, 40 generations, cxpb 0.5, mutpb 0.1, tournament of 3, genHalfAndHalf(1, 2),
cxOnePoint, mutUniform with genFull(0, 2), height limit 17. Success is an exact fit (MSE <= 1e-9).

Runs (a) bare DEAP with ``creator``/``toolbox`` as in the example and (b) evoforum's engine with
the equivalent seeded operators over ``--seeds`` seeds each, then (c) one seed end to end through
the Ray Tune evaluator with JSONL lineage and checkpoints on. Prints one JSON object.

    python benchmarks/symbreg.py [--seeds 30] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import operator
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


async def _through_ray(seed: int, generations: int, out: Path, durable: bool = True) -> dict[str, Any]:
    from evoforum.evolve import RayTuneEvaluator

    evaluator = RayTuneEvaluator(evaluate_tree, workers=2, by_value=True)
    sink = JsonlLineage(out / "lineage.jsonl")
    try:
        started = time.perf_counter()
        warm = await evaluator.evaluate(_warmup_jobs())  # starts Ray and the worker trials
        startup = time.perf_counter() - started
        engine = engine_for(seed, generations, evaluator, out_dir=out, lineage=[sink], durable=durable)
        started = time.perf_counter()
        result = await engine.run()
        wall = time.perf_counter() - started
    finally:
        sink.close()
        await evaluator.aclose()
    lines = (out / "lineage.jsonl").read_bytes().count(b"\n")
    return {
        "evaluations": result.evaluations, "jobs": result.jobs, "wall_s": round(wall, 3),
        "evals_per_s": round(result.evaluations / wall, 1), "startup_s": round(startup, 2),
        "lineage_records": lines, "warmup_jobs": len(warm),
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
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray Tune run")
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
            ray_run = asyncio.run(_through_ray(0, generations, Path(folder)))
        ray_run["vs_bare_deap"] = round(ray_run["evals_per_s"] / report["deap"]["evals_per_s"], 3)
        report["ray_tune"] = ray_run
    report["benchmark_wall_s"] = round(time.perf_counter() - begun, 1)
    sys.stdout.write(orjson.dumps(report).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
