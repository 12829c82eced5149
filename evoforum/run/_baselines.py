"""Equal-budget baselines as engine algorithms: random search, and best-of-N sampling of the seed.

Both go through the same engine, evaluator, cache, lineage and budget as evolution, so a
comparison at the same number of evaluations is one config switch (``algorithm.kind``).

* ``RandomSearch``: every generation ``lambda_`` fresh random genomes; the best ``mu`` survive.
* ``BestOfN``: the seed workflow sampled again and again: each ``Sample`` is the seed genome with
  a sample number that changes its sampling seed (LLM ``seed``, simulation stream); the best
  sample on the valid split is the winner.
"""

from __future__ import annotations

import inspect
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from evoforum.evolve import Individual, Operators, best_distinct
from evoforum.hashing import digest

SAMPLE_STRIDE = 1_000_003


@dataclass(frozen=True, eq=False)
class Sample:
    """The genome ``base`` evaluated with sample number ``index``."""

    base: Any
    index: int

    @cached_property
    def hash(self) -> str:
        return digest([str(self.base.hash), self.index], domain="sample")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sample) and other.hash == self.hash

    def __hash__(self) -> int:
        return hash(self.hash)


def describe_sample(describe: Callable[[Any], str], genome: Any) -> str:
    """``describe(genome)``, or for a ``Sample`` its base's description and its sample number."""
    if not isinstance(genome, Sample):
        return describe(genome)
    return json.dumps({"base": json.loads(describe(genome.base)), "sample": genome.index})


def base_of(genome: Any) -> tuple[Any, int]:
    """The genome to run and its sample number (0 for anything that is not a ``Sample``)."""
    return (genome.base, genome.index) if isinstance(genome, Sample) else (genome, 0)


class _Unwrapped:
    """A sync item function that runs a ``Sample``'s base with a shifted seed (picklable)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, genome: Any, item: str, seed: int) -> Any:
        base, index = base_of(genome)
        return self.fn(base, item, seed + index * SAMPLE_STRIDE)


def unwrap_samples(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` made to accept ``Sample`` genomes (stays async when ``fn`` is)."""
    if inspect.iscoroutinefunction(fn):

        async def item(genome: Any, item: str, seed: int) -> Any:
            base, index = base_of(genome)
            return await fn(base, item, seed + index * SAMPLE_STRIDE)

        return item
    return _Unwrapped(fn)


@dataclass(frozen=True)
class _KeepBest:
    """A baseline's population: ``mu`` genomes; ``lambda_`` new ones a generation; the best
    ``mu`` of all survive, each genome once."""

    mu: int
    lambda_: int

    @property
    def population_size(self) -> int:
        return self.mu

    def survive(
        self, population: Sequence[Individual], offspring: Sequence[Individual], rng: random.Random
    ) -> list[Individual]:
        return best_distinct(population, offspring, self.mu)


@dataclass(frozen=True)
class RandomSearch(_KeepBest):
    """Fresh random genomes each generation (``random_init``); the best ``mu`` of all survive."""

    random_init: Callable[[random.Random], Any]

    async def breed(
        self, population: Sequence[Individual], operators: Operators, rng: random.Random, generation: int
    ) -> list[Individual]:
        weights = population[0].fitness.weights
        return [
            Individual(self.random_init(rng), weights, operator="random", generation=generation)
            for _ in range(self.lambda_)
        ]

    def __repr__(self) -> str:
        return f"RandomSearch(mu={self.mu}, lambda_={self.lambda_})"


@dataclass(frozen=True)
class BestOfN(_KeepBest):
    """``lambda_`` new samples of the seed genome each generation; the best ``mu`` are kept."""

    seed: Any
    remember: Callable[[Any], Any] = field(default=lambda genome: genome, compare=False)

    async def breed(
        self, population: Sequence[Individual], operators: Operators, rng: random.Random, generation: int
    ) -> list[Individual]:
        weights = population[0].fitness.weights
        start = self.mu + (generation - 1) * self.lambda_
        return [
            Individual(
                self.remember(Sample(self.seed, start + i)), weights, operator="sample", generation=generation
            )
            for i in range(self.lambda_)
        ]

    def sampler(self) -> Callable[[random.Random], Sample]:
        """The ``init`` operator: samples 0, 1, 2, … of the seed."""
        made = [0]

        def init(rng: random.Random) -> Sample:
            made[0] += 1
            sample = Sample(self.seed, made[0] - 1)
            self.remember(sample)
            return sample

        return init

    def __repr__(self) -> str:
        return f"BestOfN(mu={self.mu}, lambda_={self.lambda_}, seed={str(self.seed.hash)[:12]})"
