"""Assessment: turn item results into fitness, through the cache and optionally by racing.

Every candidate is scored on the items of the selection split; its fitness values are the mean
of its item values per objective. With ``Racing`` (successive halving over items, as in ASHA),
candidates are scored on a growing prefix of the items and only the best ``1/eta`` of each rung
go on to the next, so weak candidates stop early and cost less.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from evoforum.evolve.cache import Key, ResultCache
from evoforum.evolve.evaluate import Evaluator, ItemResult, Job
from evoforum.evolve.individual import Genome


@dataclass(frozen=True)
class Racing:
    """Successive halving over items: rungs of ``min_items``, ``min_items * eta``, … items.

    Candidates are ranked at each rung by their first objective (weighted by its sign).
    """

    min_items: int = 1
    eta: int = 2

    def rungs(self, total: int) -> list[int]:
        sizes, size = [], max(1, self.min_items)
        while size < total:
            sizes.append(size)
            size *= self.eta
        return [*sizes, total]


@dataclass
class Assessment:
    """A candidate's fitness values and what they rest on."""

    values: tuple[float, ...]
    items: int
    jobs: int = 0
    transcripts: tuple[str, ...] = ()


@dataclass
class Assessor:
    """Scores genomes on ``items`` through ``evaluator``, never running a cached job twice.

    ``pending`` holds keys whose results were recovered from the journal of a killed run: they
    count as run by the generation that resumes them, exactly as in the uninterrupted run.
    """

    evaluator: Evaluator
    cache: ResultCache
    items: Sequence[str]
    weights: tuple[float, ...]
    eval_seed: int = 0
    racing: Racing | None = None
    failure_values: tuple[float, ...] = ()
    pending: set[Key] = field(default_factory=set)
    jobs_run: int = 0

    def __post_init__(self) -> None:
        if not self.failure_values:
            self.failure_values = tuple(-math.copysign(1e300, w) for w in self.weights)

    async def assess(self, genomes: Sequence[Genome]) -> dict[str, Assessment]:
        """Fitness for each distinct genome (by hash), in a deterministic order of work."""
        unique = list({str(g.hash): g for g in genomes}.values())
        ran: dict[str, int] = {}
        if self.racing is None:
            counts = {str(g.hash): len(self.items) for g in unique}
            await self._run(unique, len(self.items), ran)
        else:
            counts = await self._race(unique, ran)
        return {h: self._aggregate(h, counts[h], ran.get(h, 0)) for h in counts}

    async def _race(self, genomes: list[Genome], ran: dict[str, int]) -> dict[str, int]:
        assert self.racing is not None
        counts: dict[str, int] = {}
        alive = genomes
        rungs = self.racing.rungs(len(self.items))
        for rung, size in enumerate(rungs):
            await self._run(alive, size, ran)
            for genome in alive:
                counts[str(genome.hash)] = size
            if rung == len(rungs) - 1:
                break
            sign = 1.0 if self.weights[0] >= 0 else -1.0
            scored = sorted(
                alive,
                key=lambda g: sign * self._aggregate(str(g.hash), size, 0).values[0],
                reverse=True,
            )
            alive = scored[: max(1, math.ceil(len(alive) / self.racing.eta))]
        return counts

    async def _run(self, genomes: Sequence[Genome], size: int, ran: dict[str, int]) -> None:
        jobs: dict[Key, Job] = {}
        for genome in genomes:
            for item in self.items[:size]:
                job = Job(genome, item, self.eval_seed)
                key = job.key
                if key in self.pending:
                    self.pending.discard(key)
                    ran[key[0]] = ran.get(key[0], 0) + 1
                    self.jobs_run += 1
                elif key not in self.cache and key not in jobs:
                    jobs[key] = job
        if not jobs:
            return
        results = await self.evaluator.evaluate(list(jobs.values()))
        self.cache.put_many(zip(jobs, results, strict=True))
        self.jobs_run += len(jobs)
        for key in jobs:
            ran[key[0]] = ran.get(key[0], 0) + 1

    def _aggregate(self, genome_hash: str, size: int, jobs: int) -> Assessment:
        results: list[ItemResult] = []
        for item in self.items[:size]:
            result = self.cache.get((genome_hash, item, self.eval_seed))
            assert result is not None
            results.append(result)
        transcripts = tuple(t for r in results for t in r.transcripts)
        if any(r.error is not None for r in results) or not results:
            return Assessment(self.failure_values, size, jobs, transcripts)
        values = tuple(
            sum(column) / len(results) for column in zip(*(r.values for r in results), strict=True)
        )
        return Assessment(values, size, jobs, transcripts)
