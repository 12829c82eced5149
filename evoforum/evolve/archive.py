"""The archive of the best individuals ever seen: a hall of fame, or a Pareto front."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any

from deap import tools

from evoforum.evolve.individual import Individual


class Archive:
    """With one objective, the ``size`` fittest distinct genomes ever seen (a hall of fame); with
    several, every non-dominated distinct genome (a Pareto front). Ties keep first-seen order.

    ``key`` orders a hall of fame (default: the fitness); the engine passes a lower confidence
    bound, so that the members and the best are those whose fitness rests on enough evidence.
    """

    def __init__(
        self, objectives: int, size: int = 10, key: Callable[[Individual], Any] | None = None
    ) -> None:
        self.objectives = objectives
        self.size = size
        self.key: Callable[[Individual], Any] = key or attrgetter("fitness")
        self.members: list[Individual] = []

    def update(self, individuals: Iterable[Individual]) -> None:
        merged = {ind.hash: ind for ind in self.members}
        for ind in individuals:
            if ind.fitness.valid:
                merged.setdefault(ind.hash, ind)
        pool = list(merged.values())
        if self.objectives == 1:
            self.members = sorted(pool, key=self.key, reverse=True)[: self.size]
        elif pool:
            self.members = list(tools.sortNondominated(pool, len(pool), first_front_only=True)[0])

    @property
    def best(self) -> Individual | None:
        """The first member by ``key`` (for several objectives: by lexicographic weighted values)."""
        if not self.members:
            return None
        if self.objectives == 1:
            return max(self.members, key=self.key)
        return max(self.members, key=attrgetter("fitness"))
