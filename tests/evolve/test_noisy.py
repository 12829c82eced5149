"""Noisy fitness: evidence accumulates, survivors are scored again, the winner needs evidence."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evoforum.evolve import Engine, Job, LocalEvaluator, MuPlusLambda, Racing
from evoforum.evolve.archive import Archive
from evoforum.evolve.assess import Assessor, Evidence, LowerBound, shrunk_means
from evoforum.evolve.cache import ResultCache
from evoforum.evolve.evaluate import ItemResult
from evoforum.evolve.individual import Individual
from evoforum.evolve.toy import VectorSpace, sphere

ITEMS = [str(i) for i in range(16)]


@dataclass(frozen=True)
class Named:
    """A genome that is just a name."""

    hash: str


def scripted(genome: Named, item: str, seed: int) -> float:
    """Pass/fail items: 'steady' passes 3 of every 4 (mean 0.75); 'lucky' items 0-1 only."""
    index = int(item)
    if genome.hash == "steady":
        return 0.0 if index % 4 == 3 else 1.0
    return 1.0 if index < 2 else 0.0


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


async def test_the_winner_prefers_a_consistently_good_candidate_over_a_lucky_one() -> None:
    cache = ResultCache()
    evaluator = LocalEvaluator(scripted)
    assessor = Assessor(evaluator, cache, ITEMS, (1.0,))
    steady, lucky = Named("steady"), Named("lucky")
    await assessor.assess([steady])  # all 16 items
    await Assessor(evaluator, cache, ITEMS[:2], (1.0,)).assess([lucky])  # two lucky items only
    assert (assessor.depth("steady"), assessor.depth("lucky")) == (16, 2)
    individuals = []
    for genome in (steady, lucky):
        ind = Individual(genome, (1.0,))
        ind.fitness.values = assessor.current(genome.hash).values
        individuals.append(ind)
    assert individuals[1].fitness > individuals[0].fitness  # the mean alone prefers the lucky one
    plain = Archive(1)
    plain.update(individuals)
    assert plain.best is not None
    assert plain.best.hash == "lucky"
    ranking = LowerBound(assessor)
    ranking.fit(individuals)
    archive = Archive(1, key=ranking)
    archive.update(individuals)
    assert archive.best is not None
    assert archive.best.hash == "steady"
    await assessor.assess([lucky])  # the lucky one on every item: its mean falls to 0.125
    individuals[1].fitness.values = assessor.current("lucky").values
    assert individuals[1].fitness.values == (2 / 16,)
    assert [ranking(ind) > ranking(other) for ind, other in [individuals, individuals[::-1]]] == [True, False]


def _racing_engine(evaluator: object, generations: int, out: Path | None = None, **extra: object) -> Engine:
    return Engine(
        operators=VectorSpace(length=2).operators(), algorithm=MuPlusLambda(6, 6, 0.3, 0.6),
        evaluator=evaluator, items=ITEMS[:8], weights=(-1.0,), generations=generations, seed=4,
        racing=Racing(1, 2), out_dir=out, **extra,  # type: ignore[arg-type]
    )  # fmt: skip


async def test_survivors_earn_more_items_and_every_job_is_counted() -> None:
    counting = Counting()
    engine = _racing_engine(counting, generations=6)
    result = await engine.run()
    assert len(counting.ran) == len(set(counting.ran)) == result.jobs
    depths = [engine.assessor.depth(ind.hash) for ind in result.population]
    assert min(depths) >= 2, "a survivor was not scored on a further rung"
    assert max(depths) == 8
    for ind in result.population:  # fitness is the mean over every item seen so far
        assert ind.fitness.values == engine.assessor.current(ind.hash).values
    assert result.best is not None
    assert result.history[-1].best_hash == result.best.hash


async def test_a_job_budget_counts_the_extra_items_of_survivors() -> None:
    counting = Counting()
    result = await _racing_engine(counting, generations=200, max_jobs=60).run()
    assert result.stopped == "budget"
    assert result.jobs == len(counting.ran) >= 60
    before_last = result.history[-2].jobs
    assert before_last < 60, "a generation started although the budget was spent"


async def test_a_racing_run_resumes_exactly(tmp_path: Path) -> None:
    (tmp_path / "whole").mkdir()
    (tmp_path / "split").mkdir()
    whole = await _racing_engine(LocalEvaluator(sphere), 6, tmp_path / "whole", durable=False).run()
    await _racing_engine(LocalEvaluator(sphere), 3, tmp_path / "split", durable=False).run()
    resumed = await _racing_engine(LocalEvaluator(sphere), 6, tmp_path / "split", durable=False).run(
        resume=True
    )

    def view(result: object) -> list[object]:
        return [
            [(i.hash, i.fitness.values) for i in result.population],  # type: ignore[attr-defined]
            [(s.best, s.jobs, s.best_hash) for s in result.history],  # type: ignore[attr-defined]
        ]

    assert view(resumed) == view(whole)


def test_mu_plus_lambda_keeps_each_genome_once() -> None:
    space = VectorSpace()
    genomes = [space.init(random.Random(i)) for i in range(3)]

    def ind(index: int, value: float) -> Individual:
        made = Individual(genomes[index], (-1.0,))
        made.fitness.values = (value,)
        return made

    population = [ind(0, 1.0), ind(1, 2.0)]
    offspring = [ind(0, 1.0), ind(0, 1.0), ind(2, 3.0)]  # copies of the fittest genome
    survivors = MuPlusLambda(3, 3).survive(population, offspring, random.Random(0))
    assert [s.hash for s in survivors] == [genomes[0].hash, genomes[1].hash, genomes[2].hash]
    assert survivors[0] is population[0]


def test_shrunk_means_trust_many_items_more_than_a_few_lucky_ones() -> None:
    evidence = {
        "steady": Evidence(0.76, 0.18, 90),
        "lucky": Evidence(1.00, 0.0, 2),
        "mid": Evidence(0.70, 0.21, 90),
        "fair": Evidence(0.66, 0.22, 90),
        "weak": Evidence(0.60, 0.24, 90),
        "better": Evidence(0.80, 0.16, 60),
        "failed": None,
    }
    estimates = shrunk_means(evidence)
    assert set(estimates) == {"steady", "lucky", "mid", "fair", "weak", "better"}
    assert estimates["lucky"] < estimates["steady"] < estimates["better"]  # the means say otherwise
    assert estimates["weak"] < estimates["fair"] < estimates["mid"]
    moved = {h: abs(estimates[h] - e.mean) for h, e in evidence.items() if e is not None}
    assert moved["lucky"] == max(moved.values())
    same = shrunk_means({h: Evidence(e.mean, 0.2, 30) for h, e in evidence.items() if e is not None})
    assert sorted(same, key=same.__getitem__) == ["weak", "fair", "mid", "steady", "better", "lucky"]
    exact = shrunk_means({"a": Evidence(0.3, 0.0, 4), "b": Evidence(0.9, 0.0, 1)})
    assert exact == {"a": 0.3, "b": 0.9}  # no item noise: nothing to shrink
