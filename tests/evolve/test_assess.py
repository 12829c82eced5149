"""Assessment: the cache prevents re-evaluation, racing stops weak candidates early."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

from evoforum.errors import Timeout
from evoforum.evolve import Engine, Generational, InMemoryLineage, Job, LocalEvaluator, Racing
from evoforum.evolve.assess import Assessor
from evoforum.evolve.cache import ResultCache
from evoforum.evolve.evaluate import ItemResult, run_jobs
from evoforum.evolve.toy import VectorGenome, VectorSpace, sphere

ITEMS = [str(i) for i in range(8)]


class Counting:
    """A local evaluator that remembers every job it ran."""

    def __init__(self) -> None:
        self.inner = LocalEvaluator(sphere)
        self.ran: list[tuple[str, str, int]] = []

    async def evaluate(self, jobs: Sequence[Job]) -> list[ItemResult]:
        self.ran.extend(job.key for job in jobs)
        return await self.inner.evaluate(jobs)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _genomes(count: int, seed: int = 0) -> list[VectorGenome]:
    rng = random.Random(seed)
    return [VectorSpace().init(rng) for _ in range(count)]


async def test_the_cache_runs_each_genome_item_seed_once() -> None:
    counting = Counting()
    assessor = Assessor(counting, ResultCache(), ITEMS[:3], (-1.0,))
    genomes = _genomes(5)
    first = await assessor.assess([*genomes, *genomes[:2]])  # duplicates in one batch
    assert len(counting.ran) == len(set(counting.ran)) == 5 * 3
    again = await assessor.assess(genomes)
    assert len(counting.ran) == 15, "cached results were evaluated again"
    assert {h: a.values for h, a in again.items()} == {h: a.values for h, a in first.items()}
    other_seed = Assessor(counting, assessor.cache, ITEMS[:3], (-1.0,), eval_seed=1)
    await other_seed.assess(genomes[:1])
    assert len(counting.ran) == 18, "a new evaluation seed is a new job"


async def test_an_engine_never_evaluates_a_genome_twice_on_an_item() -> None:
    counting = Counting()
    engine = Engine(
        operators=VectorSpace(sigma=0.0).operators(), algorithm=Generational(12, cxpb=0.0, mutpb=0.5),
        evaluator=counting, items=ITEMS[:2], weights=(-1.0,), generations=5, seed=0,
    )  # fmt: skip
    result = await engine.run()
    assert len(counting.ran) == len(set(counting.ran)) == result.jobs
    assert result.evaluations > result.jobs / 2  # sigma 0: mutants equal their parents, all cached


async def test_racing_stops_weak_candidates_early() -> None:
    genomes = [VectorGenome((float(v), 0.0, 0.0)) for v in range(16)]  # fitness worsens with v
    full, raced = Counting(), Counting()
    plain = await Assessor(full, ResultCache(), ITEMS, (-1.0,)).assess(genomes)
    racing = await Assessor(raced, ResultCache(), ITEMS, (-1.0,), racing=Racing(1, 2)).assess(genomes)
    assert len(full.ran) == 16 * 8
    assert len(raced.ran) == 16 + 8 + 8 + 8  # rungs of 1, 2, 4, 8 items; each reuses the last
    by_items = {genomes[v].hash: racing[genomes[v].hash].items for v in range(16)}
    assert [by_items[genomes[v].hash] for v in range(16)] == [8, 8, 4, 4] + [2] * 4 + [1] * 8
    best = genomes[0].hash
    assert racing[best].values == plain[best].values


async def test_a_failed_item_gives_the_failure_fitness() -> None:
    def flaky(genome: VectorGenome, item: str, seed: int) -> float:
        if item == "1":
            raise Timeout("too slow")
        return 1.0

    result = await Assessor(LocalEvaluator(flaky), ResultCache(), ITEMS[:2], (-1.0,)).assess(_genomes(1))
    (assessment,) = result.values()
    assert assessment.values == (1e300,)


async def test_a_process_pool_gives_the_same_results() -> None:
    jobs = [Job(genome, item) for genome in _genomes(6) for item in ITEMS[:2]]
    pool = LocalEvaluator(sphere, processes=2)
    try:
        assert await pool.evaluate(jobs) == await LocalEvaluator(sphere).evaluate(jobs)
    finally:
        await pool.aclose()


async def test_async_item_functions_run_concurrently_in_a_worker_batch() -> None:
    running, peak = 0, 0

    async def slow(genome: VectorGenome, item: str, seed: int) -> tuple[float]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return sphere(genome, item, seed)

    jobs = [Job(genome, "0") for genome in _genomes(6)]
    results = await LocalEvaluator(slow, concurrency=3).evaluate(jobs)
    assert results == await LocalEvaluator(sphere).evaluate(jobs)
    assert peak == 3
    assert await asyncio.to_thread(run_jobs, slow, jobs, 2) == results


async def test_the_test_split_is_scored_apart_from_selection() -> None:
    engine = Engine(
        operators=VectorSpace().operators(), algorithm=Generational(6), evaluator=LocalEvaluator(sphere),
        items=["0"], weights=(-1.0,), generations=1, seed=0,
    )  # fmt: skip
    result = await engine.run()
    assert result.best is not None
    scores = await engine.score([result.best.genome], ["5", "6"])
    expected = (sphere(result.best.genome, "5", 0)[0] + sphere(result.best.genome, "6", 0)[0]) / 2
    assert scores[result.best.hash].values == (expected,)
    assert result.best.fitness.values != (expected,)


async def test_an_engine_with_racing_records_how_far_each_candidate_got() -> None:
    def run() -> Engine:
        return Engine(
            operators=VectorSpace().operators(), algorithm=Generational(12, elitism=1),
            evaluator=LocalEvaluator(sphere), items=ITEMS[:4], weights=(-1.0,), generations=3, seed=2,
            racing=Racing(1, 2), lineage=[InMemoryLineage()],
        )  # fmt: skip

    first, second = run(), run()
    one, two = await first.run(), await second.run()
    records = first.lineage[0].records  # type: ignore[attr-defined]
    assert {r.items for r in records} == {1, 2, 4}
    assert one.jobs < one.evaluations * 4
    assert [(i.hash, i.fitness.values) for i in one.population] == [
        (i.hash, i.fitness.values) for i in two.population
    ]
