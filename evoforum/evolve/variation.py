"""Selection and variation with an injected ``random.Random``: DEAP's semantics, none of its globals.

DEAP's ``selTournament``, ``varAnd`` and ``varOr`` draw from the module-level ``random``; these
are the same algorithms drawing from the generator they are given, so a run depends on its seed
alone. Genomes are frozen: operators return new genomes and the individuals that carry them are
new too, so nothing is cloned and nothing is mutated in place.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from deap import tools

from evoforum.evolve.individual import Individual

Init = Callable[[random.Random], Any]
Mutation = Callable[[Any, random.Random], Any]
Crossover = Callable[[Any, Any, random.Random], "tuple[Any, Any] | Awaitable[tuple[Any, Any]]"]


async def settle(value: Any) -> Any:
    """``value`` itself, or what it resolves to when an operator returned an awaitable.

    Operators may be ``async`` (an LLM rewrite); they are awaited one after the other, in the
    order of the random draws, so a run stays reproducible.
    """
    return await value if inspect.isawaitable(value) else value


@dataclass(frozen=True)
class Operators:
    """The genome operators of an experiment: pure functions of (genomes, rng) -> genomes, plain
    or ``async``."""

    init: Init
    mutate: Mutation
    crossover: Crossover | None = None
    label: Callable[[Any], str | None] | None = None
    """Names the operator that made a child genome, when the genome knows (else the slot's name)."""

    @property
    def mutate_name(self) -> str:
        return _name(self.mutate)

    @property
    def crossover_name(self) -> str:
        return _name(self.crossover) if self.crossover is not None else "none"


def _name(function: object) -> str:
    return str(getattr(function, "__name__", type(function).__name__))


# -- selection --------------------------------------------------------------------------------


def sel_random(individuals: Sequence[Individual], k: int, rng: random.Random) -> list[Individual]:
    """``k`` individuals drawn uniformly with replacement."""
    return [rng.choice(individuals) for _ in range(k)]


def sel_tournament(
    individuals: Sequence[Individual], k: int, rng: random.Random, tournsize: int = 3
) -> list[Individual]:
    """``k`` tournaments of ``tournsize`` aspirants drawn with replacement; the fittest wins each."""
    fitness = attrgetter("fitness")
    return [max(sel_random(individuals, tournsize, rng), key=fitness) for _ in range(k)]


def sel_best(individuals: Sequence[Individual], k: int) -> list[Individual]:
    """The ``k`` fittest, ties kept in their original order (deterministic)."""
    return sorted(individuals, key=attrgetter("fitness"), reverse=True)[:k]


def sel_worst(individuals: Sequence[Individual], k: int) -> list[Individual]:
    """The ``k`` least fit, ties kept in their original order (deterministic)."""
    return sorted(individuals, key=attrgetter("fitness"))[:k]


def sel_nsga2(individuals: Sequence[Individual], k: int) -> list[Individual]:
    """DEAP's NSGA-II survivor selection (non-dominated sorting + crowding; deterministic)."""
    return list(tools.selNSGA2(list(individuals), k))


# -- variation --------------------------------------------------------------------------------


def _child(
    genome: Any, parents: Sequence[Individual], operator: str, generation: int, operators: Operators
) -> Individual:
    named = operators.label(genome) if operators.label is not None else None
    operator = named or operator
    weights = parents[0].fitness.weights
    hashes = tuple(dict.fromkeys(parent.hash for parent in parents))
    return Individual(genome, weights, parents=hashes, operator=operator, generation=generation)


async def var_and(
    population: Sequence[Individual],
    operators: Operators,
    cxpb: float,
    mutpb: float,
    rng: random.Random,
    generation: int,
) -> list[Individual]:
    """DEAP's ``varAnd``: crossover on consecutive pairs with ``cxpb``, then mutation with ``mutpb``.

    An individual that neither operator touched is returned as it is (with its fitness).
    """
    genomes = [ind.genome for ind in population]
    origin: list[tuple[Individual, ...] | None] = [None] * len(population)
    ops: list[list[str]] = [[] for _ in population]
    for i in range(1, len(population), 2):
        if operators.crossover is not None and rng.random() < cxpb:
            pair = (population[i - 1], population[i])
            genomes[i - 1], genomes[i] = await settle(operators.crossover(genomes[i - 1], genomes[i], rng))
            origin[i - 1] = origin[i] = pair
            ops[i - 1].append(operators.crossover_name)
            ops[i].append(operators.crossover_name)
    for i in range(len(population)):
        if rng.random() < mutpb:
            genomes[i] = await settle(operators.mutate(genomes[i], rng))
            origin[i] = origin[i] or (population[i],)
            ops[i].append(operators.mutate_name)
    offspring = []
    for i, individual in enumerate(population):
        parents = origin[i]
        if parents is None:
            offspring.append(individual)
        else:
            offspring.append(_child(genomes[i], parents, "+".join(ops[i]), generation, operators))
    return offspring


async def var_or(
    population: Sequence[Individual],
    operators: Operators,
    lambda_: int,
    cxpb: float,
    mutpb: float,
    rng: random.Random,
    generation: int,
) -> list[Individual]:
    """DEAP's ``varOr``: each of ``lambda_`` children comes from crossover, mutation or reproduction.

    A crossover that gives its first parent back unchanged (no crossover operator could combine
    the two: same genes, or topologies that do not fit) makes no child; the first parent is
    mutated instead, so the slot is not spent on a copy of a parent."""
    if cxpb + mutpb > 1.0:
        raise ValueError("the sum of the crossover and mutation probabilities must be <= 1.0")
    offspring: list[Individual] = []
    for _ in range(lambda_):
        choice = rng.random()
        if choice < cxpb and operators.crossover is not None and len(population) >= 2:
            first, second = rng.sample(list(population), 2)
            genome, _ = await settle(operators.crossover(first.genome, second.genome, rng))
            if str(genome.hash) != first.hash:
                offspring.append(
                    _child(genome, (first, second), operators.crossover_name, generation, operators)
                )
                continue
            genome = await settle(operators.mutate(first.genome, rng))
            offspring.append(_child(genome, (first,), operators.mutate_name, generation, operators))
        elif choice < cxpb + mutpb:
            parent = rng.choice(population)
            genome = await settle(operators.mutate(parent.genome, rng))
            offspring.append(_child(genome, (parent,), operators.mutate_name, generation, operators))
        else:
            offspring.append(rng.choice(population))
    return offspring
