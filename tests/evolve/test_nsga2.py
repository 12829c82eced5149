"""NSGA-II: the Pareto front on a tiny problem whose front is known by enumeration."""

from __future__ import annotations

import random
from dataclasses import dataclass

from evoforum.evolve import NSGA2, Engine, LocalEvaluator, Operators
from evoforum.evolve.archive import Archive
from evoforum.evolve.individual import Individual
from evoforum.evolve.variation import sel_nsga2
from evoforum.hashing import digest

# Nine designs, two objectives to minimise. Front by hand: a (1, 9), b (2, 5), d (4, 3), g (8, 1).
TABLE = {
    "a": (1.0, 9.0), "b": (2.0, 5.0), "c": (3.0, 6.0), "d": (4.0, 3.0), "e": (5.0, 5.0),
    "f": (6.0, 4.0), "g": (8.0, 1.0), "h": (9.0, 9.0), "i": (7.0, 7.0),
}  # fmt: skip
FRONT = {"a", "b", "d", "g"}


@dataclass(frozen=True)
class Design:
    name: str

    @property
    def hash(self) -> str:
        return digest(self.name, domain="test-design")


def _individual(name: str) -> Individual:
    ind = Individual(Design(name), (-1.0, -1.0))
    ind.fitness.values = TABLE[name]
    return ind


def test_sel_nsga2_keeps_the_first_front_before_anything_else() -> None:
    population = [_individual(name) for name in "hgfedcbai"]
    chosen = sel_nsga2(population, 4)
    assert {ind.genome.name for ind in chosen} == FRONT
    second = {ind.genome.name for ind in sel_nsga2(population, 6)} - FRONT
    assert second <= {"c", "e", "f"}  # the second front is c, e and f


def test_archive_holds_exactly_the_non_dominated_designs() -> None:
    archive = Archive(objectives=2)
    archive.update(_individual(name) for name in "hgf")
    archive.update(_individual(name) for name in "edcbai")
    assert {ind.genome.name for ind in archive.members} == FRONT


def score(genome: Design, item: str, seed: int) -> tuple[float, float]:
    return TABLE[genome.name]


def _init(rng: random.Random) -> Design:
    return Design(rng.choice(sorted(TABLE)))


def _mutate(genome: Design, rng: random.Random) -> Design:
    return Design(rng.choice(sorted(TABLE)))


async def test_nsga2_run_finds_the_whole_front() -> None:
    engine = Engine(
        operators=Operators(init=_init, mutate=_mutate), algorithm=NSGA2(6, cxpb=0.0, mutpb=1.0),
        evaluator=LocalEvaluator(score), items=["only"], weights=(-1.0, -1.0), generations=10, seed=3,
    )  # fmt: skip
    result = await engine.run()
    assert {ind.genome.name for ind in result.archive} == FRONT
    assert {ind.genome.name for ind in result.population} >= FRONT
