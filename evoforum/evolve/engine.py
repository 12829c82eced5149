"""The engine: seeds a population, then breeds, assesses, selects and checkpoints each generation.

Generic over the genome: anything frozen with a ``.hash`` works, operators come in as pure
functions (``Operators``), evaluation as an ``Evaluator``. All randomness comes from one
``random.Random`` seeded with the experiment seed, whose state is checkpointed with everything
else, so a resumed run continues exactly where the killed one stopped::

    engine = Engine(operators=ops, algorithm=Generational(300), evaluator=LocalEvaluator(fn),
                    items=["a", "b"], weights=(1.0,), generations=40, seed=7, out_dir=out)
    result = await engine.run()            # or: await engine.run(resume=True)
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from evoforum.errors import ConfigError
from evoforum.evolve.algorithms import Algorithm, Islands, migrate_ring
from evoforum.evolve.archive import Archive
from evoforum.evolve.assess import Assessment, Assessor, Known, LowerBound, Racing, shrunk_means
from evoforum.evolve.cache import ResultCache
from evoforum.evolve.checkpoint import FILENAME, load_checkpoint, save_checkpoint
from evoforum.evolve.evaluate import Evaluator
from evoforum.evolve.individual import Individual
from evoforum.evolve.lineage import LineageRecord, LineageSink
from evoforum.evolve.variation import Operators, settle
from evoforum.evolve.watch import Unwatched, WorkWatcher

JOURNAL = "cache.journal"

Observer = Callable[[Individual, Sequence[tuple[float, ...]]], "Awaitable[None] | None"]
"""Told each newly assessed individual with its parents' fitness values (e.g. to pay a bandit)."""
Informed = Callable[[Sequence[Known]], None]
"""Told what selection knows of every individual at hand (e.g. the LLM operators' feedback)."""


class Stateful(Protocol):
    """A part of a run outside the engine (an operator bandit, say) whose state is checkpointed."""

    def state(self) -> Any: ...

    def restore(self, state: Any) -> None: ...


@dataclass(frozen=True)
class GenerationStats:
    """The best fitness values after a generation (the current winner's), the work done so far,
    and the winner's genome hash."""

    generation: int
    best: tuple[float, ...]
    evaluations: int
    jobs: int
    best_hash: str | None = None


@dataclass
class EvolutionResult:
    """The state of a finished run."""

    generation: int
    islands: list[list[Individual]]
    archive: list[Individual]
    best: Individual | None
    history: list[GenerationStats]
    evaluations: int
    jobs: int
    stopped: str = "generations"

    @property
    def population(self) -> list[Individual]:
        return [ind for island in self.islands for ind in island]


@dataclass
class Engine:
    """One evolutionary run; see the module docstring. ``evaluations`` counts individuals given a
    fitness (DEAP's ``nevals``), ``jobs`` the item evaluations actually run (cache misses).

    A checkpoint is written atomically after every generation, so a killed process loses nothing
    (the operating system keeps what was written). ``durable`` also fsyncs the cache journal and
    the checkpoint, at most once per ``sync_every_s`` seconds (0: every generation) and at the end
    of the run, so a machine crash loses at most that much work; an fsync costs about as much as a
    generation of a cheap problem. ``on_generation`` hooks are told each generation's
    ``GenerationStats`` once it is checkpointed. ``on_known`` hooks are told, at the end of every
    generation and when a run resumes, what selection knows of each distinct individual of the
    population and the archive (``Known``: fitness, item count, item results); a pure function of
    the checkpoint and the cache, so a resumed run tells them what the uninterrupted one did. ``max_jobs`` is a budget of item evaluations: no new generation starts
    once it is spent (the run then reports ``stopped="budget"`` and can be resumed with more).
    ``watcher`` is told each stage of each generation (``init`` or ``breed``, then ``assess``) and,
    through the assessor, the candidates and item jobs as they are planned and done
    (``evoforum.evolve.watch``), for a live progress display.

    Fitness is the mean over every item a genome has been scored on so far, refreshed each
    generation. With racing, every survivor of a generation is scored on the next rung of items
    (fresh evidence, counted in ``jobs``), so a candidate kept for a few lucky items is tested
    again until it falls out or has been scored on the whole split. With one objective the winner
    (``archive.best``) is chosen by a lower confidence bound, mean - ``confidence`` * s / sqrt(n)
    with s the item spread pooled over the candidates at hand, so a candidate that looked good on
    a few lucky items does not beat one that stayed good on many; when every candidate is scored
    on the whole split this is the plain fitness order."""

    operators: Operators
    algorithm: Algorithm
    evaluator: Evaluator
    items: Sequence[str]
    weights: tuple[float, ...]
    generations: int
    seed: int = 0
    eval_seed: int = 0
    islands: Islands = field(default_factory=Islands)
    racing: Racing | None = None
    out_dir: Path | None = None
    lineage: Sequence[LineageSink] = ()
    archive_size: int = 10
    failure_values: tuple[float, ...] = ()
    durable: bool = True
    sync_every_s: float = 10.0
    max_jobs: int | None = None
    observers: Sequence[Observer] = ()
    stateful: Sequence[Stateful] = ()
    confidence: float = 2.0
    on_generation: Sequence[Callable[[GenerationStats], None]] = ()
    on_known: Sequence[Informed] = ()
    stop: Callable[[], str | None] = lambda: None
    """Asked before each new generation: a reason to stop early (a wall clock or an LLM budget
    spent), or None to go on. The run then ends with ``stopped`` set to that reason."""
    watcher: WorkWatcher = field(default_factory=Unwatched)
    result_cache: ResultCache | None = None
    """The results (default: a cache journalled in ``out_dir``). A run passes the one its evaluator
    also journals each item into as it finishes, so a run stopped in the middle of a long batch,
    such as the test split, keeps what that batch had done."""

    def __post_init__(self) -> None:
        self.weights = tuple(float(w) for w in self.weights)
        journal = self.out_dir / JOURNAL if self.out_dir is not None else None
        self.cache = self.result_cache or ResultCache(journal)
        self.assessor = Assessor(
            self.evaluator,
            self.cache,
            list(self.items),
            self.weights,
            self.eval_seed,
            self.racing,
            self.failure_values,
            watcher=self.watcher,
        )
        self.ranking = LowerBound(self.assessor, self.confidence)
        self.archive = Archive(len(self.weights), self.archive_size, key=self.ranking)
        self.rng = random.Random(self.seed)
        self.generation = -1
        self.population: list[list[Individual]] = []
        self.history: list[GenerationStats] = []
        self.evaluations = 0
        self.lineage_index = 0
        self._synced_at = -float("inf")
        self._unsynced = False

    async def run(self, *, resume: bool = False) -> EvolutionResult:
        """Run to ``generations``; with ``resume``, continue from the checkpoint in ``out_dir``."""
        state = load_checkpoint(self.out_dir) if self.out_dir is not None else None
        if state is not None and not resume:
            raise ConfigError(f"{self.out_dir} already holds a run: resume it, or choose another folder")
        if state is not None:
            self._restore(state)
            self._inform()
        else:
            self.cache.reset()
            self.watcher.begin("init", 0)
            size = self.algorithm.population_size
            self.population = [
                [Individual(await settle(self.operators.init(self.rng)), self.weights) for _ in range(size)]
                for _ in range(self.islands.count)
            ]
            self.watcher.begin("assess", 0)
            await self._assess([(i, ind) for i, island in enumerate(self.population) for ind in island], 0)
            self._end_generation(0, self.population)
        for generation in range(self.generation + 1, self.generations + 1):
            if self.max_jobs is not None and self.assessor.jobs_run >= self.max_jobs:
                self._sync()
                return self.result(stopped="budget")
            reason = self.stop()
            if reason is not None:
                self._sync()
                return self.result(stopped=reason)
            self.watcher.begin("breed", generation)
            offspring = [
                await self.algorithm.breed(island, self.operators, self.rng, generation)
                for island in self.population
            ]
            fresh = {
                id(ind): (i, ind) for i, off in enumerate(offspring) for ind in off if not ind.fitness.valid
            }
            self.watcher.begin("assess", generation)
            await self._assess(list(fresh.values()), generation)
            self._refresh([ind for island in self.population for ind in island])
            self.population = [
                self._survive(island, off) for island, off in zip(self.population, offspring, strict=True)
            ]
            survivors = [ind for island in self.population for ind in island]
            if await self.assessor.promote([ind.genome for ind in survivors]):
                self._refresh(survivors)
            if self.islands.count > 1 and generation % self.islands.interval == 0:
                self.population = migrate_ring(self.population, self.islands.migrants)
            self._end_generation(generation, offspring)
        self._sync()
        return self.result()

    async def resume(self) -> EvolutionResult:
        """Continue the run checkpointed in ``out_dir`` (start it when there is no checkpoint)."""
        return await self.run(resume=True)

    async def score(self, genomes: Sequence[Any], items: Sequence[str]) -> dict[str, Assessment]:
        """Score genomes on other items (the test split for the final report), through the same
        evaluator and cache; selection never sees these scores."""
        assessor = Assessor(
            self.evaluator,
            self.cache,
            list(items),
            self.weights,
            self.eval_seed,
            None,
            self.failure_values,
            watcher=self.watcher,
        )
        return await assessor.assess(genomes)

    def result(self, stopped: str = "generations") -> EvolutionResult:
        return EvolutionResult(
            self.generation,
            [list(island) for island in self.population],
            list(self.archive.members),
            self.archive.best,
            list(self.history),
            self.evaluations,
            self.assessor.jobs_run,
            stopped,
        )

    async def _assess(self, pairs: list[tuple[int, Individual]], generation: int) -> None:
        assessments = await self.assessor.assess([ind.genome for _, ind in pairs])
        known = {
            ind.hash: ind.fitness.values for island in self.population for ind in island if ind.fitness.valid
        }
        records, seen = [], set()
        for island, ind in pairs:
            found = assessments[ind.hash]
            ind.fitness.values = found.values
            first = ind.hash not in seen
            seen.add(ind.hash)
            records.append(
                LineageRecord(
                    index=self.lineage_index,
                    genome_hash=ind.hash,
                    parents=ind.parents,
                    operator=ind.operator,
                    generation=generation,
                    island=island,
                    values=found.values,
                    items=found.items,
                    cached=not first or found.jobs == 0,
                    transcripts=found.transcripts,
                )
            )
            self.lineage_index += 1
        self.evaluations += len(pairs)
        for sink in self.lineage:
            sink.emit(records)
        for observer in self.observers:
            for _, ind in pairs:
                if ind.parents:
                    await settle(observer(ind, [known[p] for p in ind.parents if p in known]))

    def _end_generation(self, generation: int, newcomers: Sequence[Sequence[Individual]]) -> None:
        self.generation = generation
        # survivors too: racing may have scored one on enough items to enter the archive now
        present = [ind for group in [*newcomers, *self.population] for ind in group]
        fresh = [ind for ind in dict.fromkeys(present) if ind.fitness.valid]
        self._refresh(self.archive.members)
        self.ranking.fit([*self.archive.members, *fresh])
        self.archive.update(fresh)
        best = self.archive.best
        values = tuple(best.fitness.values) if best is not None else ()
        self._inform()
        self.history.append(
            GenerationStats(
                generation, values, self.evaluations, self.assessor.jobs_run, best.hash if best else None
            )
        )
        if self.out_dir is not None:
            sync = self.durable and time.monotonic() - self._synced_at >= self.sync_every_s
            save_checkpoint(self.out_dir, self._state(sync), durable=sync)
            self._unsynced = self.durable and not sync
            if sync:
                self._synced_at = time.monotonic()
        for hook in self.on_generation:
            hook(self.history[-1])

    def _inform(self) -> None:
        """Tell ``on_known`` what is known of the population and the archive."""
        if not self.on_known:
            return
        present = [*self.archive.members, *(ind for island in self.population for ind in island)]
        at_hand = {ind.hash: ind for ind in present}
        known = [self.assessor.known(ind.genome) for ind in at_hand.values() if ind.fitness.valid]
        for hook in self.on_known:
            hook(known)

    def _sync(self) -> None:
        """fsync the journal and the checkpoint if the last checkpoint was written without."""
        if self.out_dir is None or not self._unsynced:
            return
        self.cache.mark(durable=True)
        with (self.out_dir / FILENAME).open("rb") as handle:
            os.fsync(handle.fileno())
        self._unsynced = False

    def _survive(self, island: Sequence[Individual], offspring: Sequence[Individual]) -> list[Individual]:
        """The algorithm's survivors. With racing, candidates rest on different numbers of items,
        so survival sees each one's estimated mean (``shrunk_means``: a mean over a few items is
        pulled toward the others'), and a lucky newcomer does not push out a candidate that
        stayed good on many items; fitness is the plain mean again afterwards."""
        if self.racing is None:
            return self.algorithm.survive(island, offspring, self.rng)
        pool = [ind for ind in dict.fromkeys([*island, *offspring]) if ind.fitness.valid]
        estimates = shrunk_means({ind.hash: self.assessor.evidence(ind.hash) for ind in pool})
        means = {id(ind): ind.fitness.values for ind in pool}
        for ind in pool:
            if ind.hash in estimates:
                ind.fitness.values = (estimates[ind.hash], *ind.fitness.values[1:])
        try:
            return self.algorithm.survive(island, offspring, self.rng)
        finally:
            for ind in pool:
                ind.fitness.values = means[id(ind)]

    def _refresh(self, individuals: Sequence[Individual]) -> None:
        """Fitness over every item each genome has been scored on by now (a pure function of the
        cache, so a resumed run refreshes exactly as the uninterrupted one)."""
        for ind in individuals:
            if ind.fitness.valid and self.assessor.depth(ind.hash) > 0:
                ind.fitness.values = self.assessor.current(ind.hash).values

    def _fingerprint(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "eval_seed": self.eval_seed,
            "weights": self.weights,
            "items": list(self.items),
            "algorithm": repr(self.algorithm),
            "islands": repr(self.islands),
            "racing": repr(self.racing),
            "generations": self.generations,
        }

    def _state(self, sync: bool = True) -> dict[str, Any]:
        return {
            "fingerprint": self._fingerprint(),
            "generation": self.generation,
            "population": self.population,
            "archive": self.archive.members,
            "rng_state": self.rng.getstate(),
            "cache_mark": self.cache.mark(durable=sync),
            "evaluations": self.evaluations,
            "jobs": self.assessor.jobs_run,
            "lineage_index": self.lineage_index,
            "history": self.history,
            "stateful": [part.state() for part in self.stateful],
            "rungs": self.assessor.rungs,
            "spread": self.ranking.spread,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        saved, current = state["fingerprint"], self._fingerprint()
        changed = sorted(key for key in current if key != "generations" and saved.get(key) != current[key])
        if changed:
            raise ConfigError(f"cannot resume: the run was started with different {', '.join(changed)}")
        self.generation = state["generation"]
        self.population = state["population"]
        self.archive.members = state["archive"]
        self.rng.setstate(state["rng_state"])
        self.assessor.pending = self.cache.restore(state["cache_mark"])
        self.evaluations = state["evaluations"]
        self.assessor.jobs_run = state["jobs"]
        self.lineage_index = state["lineage_index"]
        self.history = state["history"]
        self.assessor.rungs = state.get("rungs", {})
        self.ranking.spread = state.get("spread", 0.0)
        saved_parts = state.get("stateful", [])
        if len(saved_parts) != len(self.stateful):
            raise ConfigError("cannot resume: the run was checkpointed with other stateful parts")
        for part, saved_part in zip(self.stateful, saved_parts, strict=True):
            part.restore(saved_part)
