"""DEAP's variation schemes over the toy vector space: what a child is made of and named by."""

from __future__ import annotations

import random

from evoforum.evolve.individual import Individual
from evoforum.evolve.toy import VectorGenome, VectorSpace
from evoforum.evolve.variation import Operators, var_or

SPACE = VectorSpace()


def population(size: int, rng: random.Random) -> list[Individual]:
    return [Individual(SPACE.init(rng), (1.0,)) for _ in range(size)]


def keep_both(a: VectorGenome, b: VectorGenome, rng: random.Random) -> tuple[VectorGenome, VectorGenome]:
    return a, b  # no crossover operator could combine the two


async def test_a_crossover_that_gives_its_parent_back_mutates_that_parent_instead() -> None:
    rng = random.Random(0)
    parents = population(4, rng)
    ops = Operators(init=SPACE.init, mutate=SPACE.mut_gaussian, crossover=keep_both)
    children = await var_or(parents, ops, 6, 1.0, 0.0, rng, generation=1)
    known = {p.hash for p in parents}
    assert all(child.hash not in known for child in children)  # no slot spent on a copy
    assert {child.operator for child in children} == {"mut_gaussian"}
    assert all(len(child.parents) == 1 and child.parents[0] in known for child in children)


async def test_a_crossover_that_combines_its_parents_names_both() -> None:
    rng = random.Random(0)
    parents = population(4, rng)
    ops = Operators(init=SPACE.init, mutate=SPACE.mut_gaussian, crossover=SPACE.cx_blend)
    children = await var_or(parents, ops, 6, 1.0, 0.0, rng, generation=1)
    assert {child.operator for child in children} == {"cx_blend"}
    assert all(len(child.parents) == 2 for child in children)
