"""A toy genome and toy objectives for tests, examples and smoke runs of the engine.

``VectorGenome`` is a frozen tuple of floats; ``vector_operators`` gives seeded init, Gaussian
mutation and blend crossover over it. The item functions are importable, so process pools and
Ray workers find them by name.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cached_property

from evoforum.evolve.variation import Operators
from evoforum.hashing import digest


@dataclass(frozen=True, eq=False)
class VectorGenome:
    """A point in R^n; its hash covers the values rounded to 12 digits."""

    values: tuple[float, ...]

    @cached_property
    def hash(self) -> str:
        return digest([round(v, 12) for v in self.values], domain="toy-vector")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VectorGenome) and other.hash == self.hash

    def __hash__(self) -> int:
        return hash(self.hash)


@dataclass(frozen=True)
class VectorSpace:
    """Seeded operators over ``VectorGenome`` within [low, high]^length."""

    length: int = 3
    low: float = -5.0
    high: float = 5.0
    sigma: float = 0.5

    def init(self, rng: random.Random) -> VectorGenome:
        return VectorGenome(tuple(rng.uniform(self.low, self.high) for _ in range(self.length)))

    def mut_gaussian(self, genome: VectorGenome, rng: random.Random) -> VectorGenome:
        index = rng.randrange(self.length)
        values = list(genome.values)
        values[index] = min(self.high, max(self.low, values[index] + rng.gauss(0.0, self.sigma)))
        return VectorGenome(tuple(values))

    def cx_blend(
        self, a: VectorGenome, b: VectorGenome, rng: random.Random
    ) -> tuple[VectorGenome, VectorGenome]:
        alpha = rng.random()
        one = tuple(alpha * x + (1 - alpha) * y for x, y in zip(a.values, b.values, strict=True))
        two = tuple((1 - alpha) * x + alpha * y for x, y in zip(a.values, b.values, strict=True))
        return VectorGenome(one), VectorGenome(two)

    def operators(self) -> Operators:
        return Operators(init=self.init, mutate=self.mut_gaussian, crossover=self.cx_blend)


def sphere(genome: VectorGenome, item: str, seed: int) -> tuple[float]:
    """Sum of squares shifted by the item's number (items "0", "1", …); minimise it."""
    shift = float(item) if item.lstrip("-").isdigit() else 0.0
    return (sum((v - shift * 0.1) ** 2 for v in genome.values),)


def two_objectives(genome: VectorGenome, item: str, seed: int) -> tuple[float, float]:
    """Schaffer's problem on the first coordinate: f1 = x², f2 = (x - 2)²; minimise both."""
    x = genome.values[0]
    return (x * x, (x - 2.0) ** 2)
