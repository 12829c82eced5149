"""The engine: determinism per seed, each algorithm improves a toy objective, islands migrate."""

from __future__ import annotations

import asyncio
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from evoforum.evolve import (
    NSGA2,
    Engine,
    EvolutionResult,
    Generational,
    InMemoryLineage,
    Islands,
    LocalEvaluator,
    MuPlusLambda,
    Operators,
)
from evoforum.evolve.algorithms import migrate_ring
from evoforum.evolve.individual import Individual
from evoforum.evolve.toy import VectorSpace, sphere

SPACE = VectorSpace(length=3)
ITEMS = ["0", "1", "2"]


def _engine(algorithm: Any, seed: int = 1, generations: int = 8, **extra: Any) -> Engine:
    return Engine(
        operators=SPACE.operators(), algorithm=algorithm, evaluator=LocalEvaluator(sphere),
        items=ITEMS, weights=(-1.0,), generations=generations, seed=seed, **extra,
    )  # fmt: skip


def _fingerprint(result: EvolutionResult) -> list[Any]:
    return [
        [(ind.hash, ind.fitness.values, ind.parents, ind.operator) for ind in island]
        for island in result.islands
    ] + [[(s.generation, s.best, s.evaluations, s.jobs) for s in result.history]]


async def test_same_seed_same_run_individual_for_individual() -> None:
    first_lineage, second_lineage = InMemoryLineage(), InMemoryLineage()
    first = await _engine(Generational(16, elitism=1), lineage=[first_lineage]).run()
    second = await _engine(Generational(16, elitism=1), lineage=[second_lineage]).run()
    other = await _engine(Generational(16, elitism=1), seed=2).run()
    assert _fingerprint(first) == _fingerprint(second)
    assert first_lineage.records == second_lineage.records
    assert _fingerprint(first) != _fingerprint(other)


_CHILD = """
import asyncio, json, sys
from evoforum.evolve import Engine, Generational, LocalEvaluator
from evoforum.evolve.toy import VectorSpace, sphere
engine = Engine(operators=VectorSpace(length=3).operators(), algorithm=Generational(16, elitism=1),
                evaluator=LocalEvaluator(sphere), items=["0", "1", "2"], weights=(-1.0,),
                generations=8, seed=1)
result = asyncio.run(engine.run())
print(json.dumps([[(i.hash, list(i.fitness.values)) for i in island] for island in result.islands]))
"""


async def test_same_seed_same_run_across_a_process_boundary() -> None:
    here = await _engine(Generational(16, elitism=1)).run()
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", _CHILD, stdout=asyncio.subprocess.PIPE)
    stdout, _ = await child.communicate()
    assert child.returncode == 0
    there = json.loads(stdout)
    assert there == [[[ind.hash, list(ind.fitness.values)] for ind in island] for island in here.islands]


@pytest.mark.parametrize(
    "algorithm",
    [Generational(20, elitism=2), Generational(20, elitism=0), MuPlusLambda(10, 20), NSGA2(12)],
    ids=["generational-elitism", "generational", "mu-plus-lambda", "nsga2"],
)
async def test_each_algorithm_improves_a_toy_objective(algorithm: Any) -> None:
    result = await _engine(algorithm, generations=12).run()
    start, end = result.history[0].best[0], result.history[-1].best[0]
    assert end < start * 0.5
    assert result.best is not None
    assert result.best.fitness.values[0] == pytest.approx(end)
    population_best = min(ind.fitness.values[0] for ind in result.population)
    if not isinstance(algorithm, Generational) or algorithm.elitism:
        assert population_best == pytest.approx(end)  # elitist: the best is never lost


async def test_islands_exchange_their_best_around_a_ring() -> None:
    lineage = InMemoryLineage()
    islands = Islands(count=3, interval=2, migrants=2)
    result = await _engine(MuPlusLambda(8, 8), islands=islands, generations=4, lineage=[lineage]).run()
    assert len(result.islands) == 3
    assert all(len(island) == 8 for island in result.islands)
    born = {}
    for record in lineage.records:
        born.setdefault(record.genome_hash, record.island)
    moved = [
        (born[ind.hash], index)
        for index, island in enumerate(result.islands)
        for ind in island
        if born[ind.hash] != index
    ]
    assert moved, "no individual left the island it was born on"
    # without migration every individual stays home
    still = await _engine(MuPlusLambda(8, 8), islands=Islands(3, interval=100), generations=4).run()
    assert len({ind.hash for ind in still.islands[0]} & {ind.hash for ind in still.islands[1]}) == 0


async def test_lineage_records_every_assessed_individual(tmp_path: Path) -> None:
    lineage = InMemoryLineage()
    result = await _engine(Generational(10, elitism=1), lineage=[lineage], generations=3).run()
    assert len(lineage.records) == result.evaluations
    assert [r.index for r in lineage.records] == list(range(len(lineage.records)))
    children = [r for r in lineage.records if r.generation > 0]
    assert children
    assert all(r.parents and r.operator != "init" for r in children)
    known = {r.genome_hash for r in lineage.records}
    assert all(parent in known for r in children for parent in r.parents)


def test_ring_migration_moves_the_best_over_the_worst_of_the_next_island() -> None:
    rng = random.Random(0)
    islands = []
    for index in range(3):
        island = []
        for value in range(4):
            ind = Individual(SPACE.init(rng), (1.0,))
            ind.fitness.values = (index * 10 + value,)
            island.append(ind)
        islands.append(island)
    moved = migrate_ring(islands, 1)
    for index, island in enumerate(moved):
        values = sorted(ind.fitness.values[0] for ind in island)
        source = (index - 1) % 3
        expected = sorted([index * 10 + 1, index * 10 + 2, index * 10 + 3, source * 10 + 3])
        assert values == expected


async def test_async_operators_are_awaited_in_order() -> None:
    space = VectorSpace(length=3)

    async def mut_later(genome: Any, rng: random.Random) -> Any:
        await asyncio.sleep(0)
        return space.mut_gaussian(genome, rng)

    def run(mutate: Any) -> Engine:
        ops = Operators(init=space.init, mutate=mutate, crossover=space.cx_blend)
        return Engine(
            operators=ops, algorithm=Generational(12, elitism=1), evaluator=LocalEvaluator(sphere),
            items=ITEMS, weights=(-1.0,), generations=4, seed=1,
        )  # fmt: skip

    later, now = await run(mut_later).run(), await run(space.mut_gaussian).run()
    assert [(i.hash, i.fitness.values) for i in later.population] == [
        (i.hash, i.fitness.values) for i in now.population
    ]
    assert any(i.operator.endswith("mut_later") for i in later.population)


async def test_a_job_budget_stops_the_run_and_resume_can_extend_it(tmp_path: Path) -> None:
    small = _engine(Generational(10, elitism=1), generations=20, out_dir=tmp_path, max_jobs=60)
    stopped = await small.run()
    assert stopped.stopped == "budget"
    assert stopped.generation < 20
    assert stopped.jobs >= 60
    more = _engine(Generational(10, elitism=1), generations=20, out_dir=tmp_path)
    finished = await more.resume()
    assert finished.stopped == "generations"
    assert finished.generation == 20
    whole = await _engine(Generational(10, elitism=1), generations=20).run()
    assert _fingerprint(finished) == _fingerprint(whole)


class _Told:
    """An ``on_known`` hook keeping every report as {hash: (values, items, item results)}."""

    def __init__(self) -> None:
        self.reports: list[dict[str, Any]] = []

    def __call__(self, known: Any) -> None:
        self.reports.append({str(k.genome.hash): (k.values, k.items, len(k.results)) for k in known})


def _racing(generations: int, out: Path, told: _Told) -> Engine:
    from evoforum.evolve import Racing

    return _engine(
        MuPlusLambda(6, 6, 0.3, 0.6), seed=4, generations=generations, out_dir=out, durable=False,
        racing=Racing(1, 2), on_known=[told],
    )  # fmt: skip


async def test_on_known_tells_the_current_fitness_and_items_and_a_resume_tells_the_same(
    tmp_path: Path,
) -> None:
    whole_told, split_told, resumed_told = _Told(), _Told(), _Told()
    (tmp_path / "whole").mkdir()
    (tmp_path / "split").mkdir()
    engine = _racing(5, tmp_path / "whole", whole_told)
    result = await engine.run()
    assert len(whole_told.reports) == 6  # generation 0 and each of 5 more
    last = whole_told.reports[-1]
    at_hand = {ind.hash for ind in [*result.population, *result.archive]}
    assert set(last) == at_hand
    for genome_hash, (values, items, results) in last.items():
        assert values == engine.assessor.current(genome_hash).values
        assert items == results == engine.assessor.depth(genome_hash)
    counts = {items for report in whole_told.reports for _, items, _ in report.values()}
    assert len(counts) > 1  # racing: the evidence differs
    await _racing(2, tmp_path / "split", split_told).run()
    await _racing(5, tmp_path / "split", resumed_told).run(resume=True)
    assert resumed_told.reports[0] == split_told.reports[-1] == whole_told.reports[2]
    assert resumed_told.reports[1:] == whole_told.reports[3:]
