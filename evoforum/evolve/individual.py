"""Importable ``Fitness`` and ``Individual``: DEAP's data model without ``creator.create``.

DEAP's ``creator`` builds classes at run time in its own module namespace, which breaks pickling
in worker processes. Here the weights live on each ``Fitness`` instance instead of on a generated
class, so one importable class serves every experiment and pickles anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from deap import base

FAILED = 1e300
"""The size of a failed candidate's fitness: each objective at its worst (``failure_fitness``)."""
_FAILURE_BOUND = 1e299  # values at least this large (in size) are failures, not qualities


def failure_fitness(weights: Sequence[float]) -> tuple[float, ...]:
    """The fitness of a candidate that failed: ``FAILED``, worst in the direction of each weight."""
    return tuple(-math.copysign(FAILED, w) for w in weights)


def is_failure(values: Sequence[float]) -> bool:
    """Whether ``values`` are no measured fitness: none at all, or the failure fitness."""
    return not values or abs(values[0]) >= _FAILURE_BOUND


@runtime_checkable
class Genome(Protocol):
    """What the engine needs of a genome: frozen, hashable, named by a content hash."""

    @property
    def hash(self) -> str: ...


class Fitness(base.Fitness):  # type: ignore[misc]
    """A DEAP fitness whose ``weights`` are set per instance (one per objective).

    Positive weights maximise, negative ones minimise. Comparison, domination and hashing are
    DEAP's own (over the weighted values), so ``deap.tools`` selection functions accept it.
    """

    def __init__(self, weights: Sequence[float], values: Sequence[float] = ()) -> None:
        self.weights = tuple(float(w) for w in weights)
        super().__init__(tuple(values))

    def __deepcopy__(self, memo: dict[int, Any]) -> Fitness:
        copy_ = Fitness(self.weights)
        copy_.wvalues = self.wvalues
        return copy_

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_fitness, (self.weights, self.values if self.valid else ()))


def _rebuild_fitness(weights: tuple[float, ...], values: tuple[float, ...]) -> Fitness:
    return Fitness(weights, values)


class Individual:
    """One member of a population: a genome, its fitness and where it came from.

    ``parents`` are the genome hashes of the parents, ``operator`` the name of what made it
    (``"init"``, ``"cxOnePoint"``, ``"cxOnePoint+mutUniform"``, ``"reproduction"``…), and
    ``generation`` the generation it was born in.
    """

    __slots__ = ("fitness", "generation", "genome", "operator", "parents")

    def __init__(
        self,
        genome: Any,
        weights: Sequence[float],
        *,
        parents: tuple[str, ...] = (),
        operator: str = "init",
        generation: int = 0,
    ) -> None:
        self.genome = genome
        self.fitness = Fitness(weights)
        self.parents = parents
        self.operator = operator
        self.generation = generation

    @property
    def hash(self) -> str:
        """The genome's content hash."""
        return str(self.genome.hash)

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.genome, self.fitness, self.parents, self.operator, self.generation)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.genome, self.fitness, self.parents, self.operator, self.generation = state

    def __repr__(self) -> str:
        values = self.fitness.values if self.fitness.valid else None
        return f"Individual({self.hash[:12]}, fitness={values}, op={self.operator}, gen={self.generation})"
