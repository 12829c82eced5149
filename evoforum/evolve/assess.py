"""Assessment: turn item results into fitness, through the cache and optionally by racing.

Every candidate is scored on the items of the selection split; its fitness values are the mean
of its item values per objective, over every item it has been scored on so far (a genome met
again keeps the evidence it already has). With ``Racing`` (asynchronous successive halving over
items, as in ASHA), candidates are scored on a growing prefix of the items and go on to the next
rung only while they rank in the best ``1/eta`` of every candidate the run has scored at that
rung, so weak candidates stop early and cost less, and only the promising ones are scored on the
whole split. A genome's ``Evidence`` (mean, variance, item count) feeds ``LowerBound``, the
variance-aware order that picks the winner, and ``shrunk_means``, the estimates that survival
compares when candidates rest on different numbers of items.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from evoforum.evolve.cache import Key, ResultCache
from evoforum.evolve.evaluate import Evaluator, ItemResult, Job
from evoforum.evolve.individual import Genome, Individual, failure_fitness
from evoforum.evolve.watch import Unwatched, WorkWatcher


@dataclass(frozen=True)
class Racing:
    """Successive halving over items: rungs of ``min_items``, ``min_items * eta``, … items.

    Candidates are ranked at each rung by their first objective (weighted by its sign), against
    every candidate scored at that rung so far in the run (the first batch races only itself).
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


@dataclass(frozen=True)
class Known:
    """What selection knows of one genome: its fitness over the items it has been scored on so far
    (the failure fitness when it failed on one), their number, and those items' results in split
    order (each ``ItemResult.info`` as the item function wrote it)."""

    genome: Genome
    values: tuple[float, ...]
    items: int
    results: tuple[ItemResult, ...]


@dataclass(frozen=True)
class Evidence:
    """What a candidate's first objective rests on: its mean, the variance of its item values
    (unbiased; 0 with one item) and the number of items."""

    mean: float
    variance: float
    items: int


@dataclass
class Assessor:
    """Scores genomes on ``items`` through ``evaluator``, never running a cached job twice.

    ``pending`` holds keys whose results were recovered from the journal of a killed run: they
    count as run by the generation that resumes them, exactly as in the uninterrupted run (and
    are not evidence before then). ``rungs`` holds the racing scores per rung size (checkpointed).
    ``watcher`` is told the candidates, each batch of jobs and what got done (``WorkWatcher``).
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
    rungs: dict[int, dict[str, float]] = field(default_factory=dict)
    watcher: WorkWatcher = field(default_factory=Unwatched)

    def __post_init__(self) -> None:
        if not self.failure_values:
            self.failure_values = failure_fitness(self.weights)

    async def assess(self, genomes: Sequence[Genome]) -> dict[str, Assessment]:
        """Fitness for each distinct genome (by hash), in a deterministic order of work."""
        unique = list({str(g.hash): g for g in genomes}.values())
        self.watcher.candidates([str(g.hash) for g in unique])
        ran: dict[str, int] = {}
        if self.racing is None:
            counts = {str(g.hash): len(self.items) for g in unique}
            await self._run(unique, len(self.items), ran)
        else:
            counts = await self._race(unique, ran)
        self.watcher.settled(list(counts))
        return {h: self._aggregate(h, max(counts[h], self.depth(h)), ran.get(h, 0)) for h in counts}

    def current(self, genome_hash: str) -> Assessment:
        """The fitness of an already assessed genome over every item it has been scored on."""
        return self._aggregate(genome_hash, self.depth(genome_hash), 0)

    def known(self, genome: Genome) -> Known:
        """What is known of an already assessed ``genome``: ``current`` and its item results."""
        genome_hash = str(genome.hash)
        found = self.current(genome_hash)
        results = (self.cache.get((genome_hash, item, self.eval_seed)) for item in self.items[: found.items])
        return Known(genome, found.values, found.items, tuple(r for r in results if r is not None))

    def depth(self, genome_hash: str) -> int:
        """How many leading items of the split the genome has results for."""
        count = 0
        for item in self.items:
            key = (genome_hash, item, self.eval_seed)
            if key not in self.cache or key in self.pending:
                break
            count += 1
        return count

    def evidence(self, genome_hash: str) -> Evidence | None:
        """Mean, variance and count of the first objective's item values (None: failed or unscored)."""
        values = []
        for item in self.items[: self.depth(genome_hash)]:
            result = self.cache.get((genome_hash, item, self.eval_seed))
            if result is None or result.error is not None:
                return None
            values.append(result.values[0])
        if not values:
            return None
        mean = sum(values) / len(values)
        variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
        return Evidence(mean, variance, len(values))

    async def promote(self, genomes: Sequence[Genome]) -> int:
        """Score each genome (by hash, once) on the next rung of items above what it has been
        scored on (racing; without it every genome already has the whole split): survivors of
        selection earn more evidence. Returns the number of genomes promoted."""
        if self.racing is None:
            return 0
        rungs = self.racing.rungs(len(self.items))
        groups: dict[int, list[Genome]] = {}
        for genome in {str(g.hash): g for g in genomes}.values():
            depth = self.depth(str(genome.hash))
            above = [size for size in rungs if size > depth]
            if above and depth > 0:
                groups.setdefault(above[0], []).append(genome)
        for size in sorted(groups):
            await self._run(groups[size], size, {})
            scores = self.rungs.setdefault(size, {})
            for genome in groups[size]:
                scores.setdefault(str(genome.hash), self._aggregate(str(genome.hash), size, 0).values[0])
        return sum(len(group) for group in groups.values())

    async def _race(self, genomes: list[Genome], ran: dict[str, int]) -> dict[str, int]:
        assert self.racing is not None
        counts: dict[str, int] = {}
        alive = genomes
        rungs = self.racing.rungs(len(self.items))
        sign = 1.0 if self.weights[0] >= 0 else -1.0
        for rung, size in enumerate(rungs):
            await self._run(alive, size, ran, final=rung == len(rungs) - 1)
            scores = self.rungs.setdefault(size, {})
            for genome in alive:
                counts[str(genome.hash)] = size
                scores.setdefault(str(genome.hash), self._aggregate(str(genome.hash), size, 0).values[0])
            if rung == len(rungs) - 1:
                break
            ranked = sorted(scores, key=lambda h: sign * scores[h], reverse=True)
            top = set(ranked[: max(1, math.ceil(len(ranked) / self.racing.eta))])
            self.watcher.settled([str(g.hash) for g in alive if str(g.hash) not in top])
            alive = [genome for genome in alive if str(genome.hash) in top]
            if not alive:
                break
        return counts

    async def _run(
        self, genomes: Sequence[Genome], size: int, ran: dict[str, int], *, final: bool = True
    ) -> None:
        """Score ``genomes`` on the first ``size`` items (``final``: their assessment is then complete)."""
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
        self.watcher.planned([str(g.hash) for g in genomes], list(jobs), final=final)
        if not jobs:
            return
        results = await self.evaluator.evaluate(list(jobs.values()))
        self.watcher.done(list(zip(jobs, results, strict=True)))
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


@dataclass
class LowerBound:
    """A variance-aware order of candidates for picking a winner: the weighted lower confidence
    bound of the first objective, w * mean - |w| * ``confidence`` * s / sqrt(n), then the weighted
    fitness values (failed candidates last). s is the item standard deviation pooled over the
    candidates given to ``fit``, so a candidate scored on one or two lucky items is not trusted
    for their lack of spread. When every candidate has the same number of items, this is the
    plain fitness order."""

    assessor: Assessor
    confidence: float = 2.0
    spread: float = 0.0
    """The pooled item variance (set by ``fit``)."""

    def fit(self, individuals: Sequence[Individual]) -> None:
        """Pool the item variance of the first objective over the distinct genomes given."""
        total, freedom = 0.0, 0
        for genome_hash in dict.fromkeys(ind.hash for ind in individuals):
            evidence = self.assessor.evidence(genome_hash)
            if evidence is not None and evidence.items > 1:
                total += evidence.variance * (evidence.items - 1)
                freedom += evidence.items - 1
        self.spread = total / freedom if freedom else 0.0

    def __call__(self, ind: Individual) -> tuple[float, ...]:
        evidence = self.assessor.evidence(ind.hash)
        if evidence is None:
            return (-math.inf, *ind.fitness.wvalues)
        weight = self.assessor.weights[0]
        margin = self.confidence * math.sqrt(self.spread / evidence.items)
        return (weight * evidence.mean - abs(weight) * margin, *ind.fitness.wvalues)


def shrunk_means(evidence: Mapping[str, Evidence | None], floor: float = 1e-4) -> dict[str, float]:
    """Empirical-Bayes estimates of each candidate's true mean (first objective): its item mean
    pulled toward the candidates' grand mean m by n / (n + k), k = s2 / tau2, with s2 the pooled
    item variance and tau2 the spread of the true means (method of moments: the variance of the
    candidates' means less their average noise s2 / n, at least ``floor``). A mean over a few
    lucky items moves most of the way back to m. When the means spread no more than their noise
    explains, tau2 is the floor and the order is that of n * (mean - m): the evidence that a
    candidate is better than the pack. With equal item counts the order is the means' order;
    without item noise the means are exact. Failed candidates (None) are left out."""
    known = {h: e for h, e in evidence.items() if e is not None}
    freedom = sum(e.items - 1 for e in known.values())
    noise = sum(e.variance * (e.items - 1) for e in known.values()) / freedom if freedom else 0.0
    if noise <= 0.0:
        return {h: e.mean for h, e in known.items()}
    means = [e.mean for e in known.values()]
    grand = sum(means) / len(means)
    between = sum((m - grand) ** 2 for m in means) / max(1, len(means) - 1)
    tau2 = max(between - sum(noise / e.items for e in known.values()) / len(known), floor)
    k = noise / tau2
    return {h: grand + (e.mean - grand) * e.items / (e.items + k) for h, e in known.items()}
