"""The search algorithms a config names (``ALGORITHMS``), with the equal-budget baselines.

``ALGORITHMS`` maps ``algorithm.kind`` to a builder of the engine's algorithm, islands and
operators. Besides the evolutionary ones (``evoforum.evolve``), two baselines go through the same engine, evaluator, cache, lineage and budget as evolution, so a
comparison at the same number of evaluations is one config switch (``algorithm.kind``).

* ``RandomSearch``: every generation ``lambda_`` fresh random genomes; the best ``mu`` survive.
* ``BestOfN``: the seed workflow sampled again and again. Sample 0 is the seed genome itself;
  every later ``Sample`` runs the seed ``heated`` (its model agents at least ``algorithm.temperature``
  hot, so a greedy seed really samples) with a sample number that changes its sampling seed (LLM
  ``seed``, simulation stream); the best sample on the valid split is the winner. Each sample's
  requests name their own seeds, so a rerun or a replay asks the same ones.
"""

from __future__ import annotations

import inspect
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from evoforum.config.model import AlgorithmSection
from evoforum.evolve import NSGA2, Generational, Islands, MuPlusLambda, Operators
from evoforum.evolve.algorithms import best_distinct
from evoforum.evolve.individual import Individual
from evoforum.genome import LLMAgentSpec, WorkflowGenome
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


def heated(genome: Any, temperature: float) -> Any:
    """``genome`` with each model agent at least ``temperature`` hot; a genome that is not a
    workflow (a simulation's, sampled by its seed alone) comes back as it is."""
    if not isinstance(genome, WorkflowGenome):
        return genome
    agents = tuple(
        agent.model_copy(update={"temperature": temperature})
        if isinstance(agent, LLMAgentSpec) and agent.temperature < temperature
        else agent
        for agent in genome.agents
    )
    return genome.model_copy(update={"agents": agents})


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
    """``lambda_`` new samples of the seed genome each generation; the best ``mu`` are kept.
    Sample 0 is ``seed`` itself, every later one ``hot`` (the seed ``heated``)."""

    seed: Any
    hot: Any
    remember: Callable[[Any], Any] = field(default=lambda genome: genome, compare=False)

    def sample(self, index: int) -> Sample:
        """Sample number ``index`` of the seed, remembered."""
        sample = Sample(self.seed if index == 0 else self.hot, index)
        self.remember(sample)
        return sample

    async def breed(
        self, population: Sequence[Individual], operators: Operators, rng: random.Random, generation: int
    ) -> list[Individual]:
        weights = population[0].fitness.weights
        start = self.mu + (generation - 1) * self.lambda_
        return [
            Individual(self.sample(start + i), weights, operator="sample", generation=generation)
            for i in range(self.lambda_)
        ]

    def sampler(self) -> Callable[[random.Random], Sample]:
        """The ``init`` operator: samples 0, 1, 2, … of the seed."""
        made = [0]

        def init(rng: random.Random) -> Sample:
            made[0] += 1
            return self.sample(made[0] - 1)

        return init

    def __repr__(self) -> str:
        return f"BestOfN(mu={self.mu}, lambda_={self.lambda_}, seed={str(self.seed.hash)[:12]})"


@dataclass(frozen=True)
class Origins:
    """Where the baselines' genomes come from: fresh random ones, the seed workflow, and the
    ``remember`` hook every made genome goes through (the run's genome book)."""

    random_init: Callable[[random.Random], Any]
    seed_genome: Callable[[], Any]
    remember: Callable[[Any], Any]


@dataclass(frozen=True)
class Search:
    """What the engine runs: an algorithm, its islands and the operators it breeds with."""

    algorithm: Any
    operators: Operators
    islands: Islands = field(default_factory=Islands)


Builder = Callable[[AlgorithmSection, Operators, Origins], Search]


def _sizes(section: AlgorithmSection) -> tuple[int, int]:
    return section.population, section.offspring or section.population


def _mu_plus_lambda(section: AlgorithmSection, operators: Operators, origins: Origins) -> Search:
    mu, lambda_ = _sizes(section)
    return Search(MuPlusLambda(mu, lambda_, section.crossover_rate, section.mutation_rate), operators)


def _generational(section: AlgorithmSection, operators: Operators, origins: Origins) -> Search:
    rates = (section.crossover_rate, section.mutation_rate, section.tournament, section.elites)
    return Search(Generational(section.population, *rates), operators)


def _nsga2(section: AlgorithmSection, operators: Operators, origins: Origins) -> Search:
    mu, lambda_ = _sizes(section)
    return Search(NSGA2(mu, lambda_, section.crossover_rate, section.mutation_rate), operators)


def _islands(section: AlgorithmSection, operators: Operators, origins: Origins) -> Search:
    islands = Islands(section.islands, section.migration_every, section.migrants)
    return Search(_mu_plus_lambda(section, operators, origins).algorithm, operators, islands)


def _random_search(section: AlgorithmSection, operators: Operators, origins: Origins) -> Search:
    algorithm = RandomSearch(*_sizes(section), lambda rng: origins.remember(origins.random_init(rng)))
    return Search(algorithm, Operators(init=algorithm.random_init, mutate=operators.mutate))


def _best_of_n(section: AlgorithmSection, operators: Operators, origins: Origins) -> Search:
    seed = origins.remember(origins.seed_genome())
    algorithm = BestOfN(*_sizes(section), seed, heated(seed, section.temperature), origins.remember)
    return Search(algorithm, Operators(init=algorithm.sampler(), mutate=operators.mutate))


ALGORITHMS: dict[str, Builder] = {
    "mu_plus_lambda": _mu_plus_lambda,
    "generational": _generational,
    "nsga2": _nsga2,
    "islands": _islands,
    "random_search": _random_search,
    "best_of_n": _best_of_n,
}
"""``algorithm.kind`` -> the builder of what the engine runs (``Search``)."""
