"""Evolutionary algorithms as two steps around evaluation: ``breed`` then ``survive``.

The engine evaluates what ``breed`` returns between the two calls, so every algorithm shares the
same evaluation, caching, lineage and checkpointing. Each is a small frozen value; DEAP's
``eaSimple``, ``eaMuPlusLambda`` and NSGA-II are the references for their semantics.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from evoforum.evolve.individual import Individual
from evoforum.evolve.variation import (
    Operators,
    sel_best,
    sel_nsga2,
    sel_tournament,
    sel_worst,
    var_and,
    var_or,
)


class Algorithm(Protocol):
    """One generation: offspring from a population, then the next population from both."""

    @property
    def population_size(self) -> int: ...

    async def breed(
        self, population: Sequence[Individual], operators: Operators, rng: random.Random, generation: int
    ) -> list[Individual]: ...

    def survive(
        self, population: Sequence[Individual], offspring: Sequence[Individual], rng: random.Random
    ) -> list[Individual]: ...


@dataclass(frozen=True)
class Generational:
    """DEAP's ``eaSimple`` plus elitism: tournament selection, ``varAnd``, the ``elitism`` best kept."""

    population_size: int
    cxpb: float = 0.5
    mutpb: float = 0.1
    tournsize: int = 3
    elitism: int = 0

    async def breed(
        self, population: Sequence[Individual], operators: Operators, rng: random.Random, generation: int
    ) -> list[Individual]:
        parents = sel_tournament(population, self.population_size - self.elitism, rng, self.tournsize)
        return await var_and(parents, operators, self.cxpb, self.mutpb, rng, generation)

    def survive(
        self, population: Sequence[Individual], offspring: Sequence[Individual], rng: random.Random
    ) -> list[Individual]:
        return sel_best(population, self.elitism) + list(offspring)


@dataclass(frozen=True)
class MuPlusLambda:
    """DEAP's ``eaMuPlusLambda``: ``varOr`` makes ``lambda_`` children; the best ``mu`` of all survive."""

    mu: int
    lambda_: int
    cxpb: float = 0.5
    mutpb: float = 0.5

    @property
    def population_size(self) -> int:
        return self.mu

    async def breed(
        self, population: Sequence[Individual], operators: Operators, rng: random.Random, generation: int
    ) -> list[Individual]:
        return await var_or(population, operators, self.lambda_, self.cxpb, self.mutpb, rng, generation)

    def survive(
        self, population: Sequence[Individual], offspring: Sequence[Individual], rng: random.Random
    ) -> list[Individual]:
        return best_distinct(population, offspring, self.mu)


@dataclass(frozen=True)
class NSGA2:
    """NSGA-II over several objectives: ``varOr`` children, survivors by ``deap.tools.selNSGA2``."""

    mu: int
    lambda_: int | None = None
    cxpb: float = 0.5
    mutpb: float = 0.5

    @property
    def population_size(self) -> int:
        return self.mu

    async def breed(
        self, population: Sequence[Individual], operators: Operators, rng: random.Random, generation: int
    ) -> list[Individual]:
        lambda_ = self.lambda_ or self.mu
        return await var_or(population, operators, lambda_, self.cxpb, self.mutpb, rng, generation)

    def survive(
        self, population: Sequence[Individual], offspring: Sequence[Individual], rng: random.Random
    ) -> list[Individual]:
        return sel_nsga2(_unique(population, offspring), self.mu)


def best_distinct(
    population: Sequence[Individual], offspring: Sequence[Individual], mu: int
) -> list[Individual]:
    """The ``mu`` best of population and offspring, each genome once (see ``_unique``)."""
    return sel_best(_unique(population, offspring), mu)


def _unique(population: Sequence[Individual], offspring: Sequence[Individual]) -> list[Individual]:
    """Population and offspring without the same genome twice (reproduction re-adds parents, and
    a mutation can give back its parent): a copy would take a survivor's place, and a population
    of copies of one lucky genome stops searching. The first seen is kept."""
    first: dict[str, Individual] = {}
    for ind in [*population, *offspring]:
        first.setdefault(ind.hash, ind)
    return list(first.values())


@dataclass(frozen=True)
class Islands:
    """``count`` populations evolving side by side; every ``interval`` generations the ``migrants``
    best of each island replace the worst of the next one around a ring."""

    count: int = 1
    interval: int = 5
    migrants: int = 1


def migrate_ring(islands: Sequence[Sequence[Individual]], migrants: int) -> list[list[Individual]]:
    """Ring migration: island i's best ``migrants`` replace island i+1's worst (all at once)."""
    emigrants = [sel_best(island, migrants) for island in islands]
    moved = []
    for index, island in enumerate(islands):
        arriving = emigrants[index - 1]
        leaving = {id(ind) for ind in sel_worst(island, len(arriving))}
        kept = [ind for ind in island if id(ind) not in leaving]
        moved.append(kept + list(arriving))
    return moved
