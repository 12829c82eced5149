"""Walking lineage records: a genome's ancestors, the closure of a set of elites, per-generation fitness."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from evoforum.evolve.lineage import LineageRecord


def by_hash(records: Iterable[LineageRecord]) -> dict[str, LineageRecord]:
    """The first record of each genome hash (a genome evaluated again keeps its first record)."""
    first: dict[str, LineageRecord] = {}
    for record in records:
        first.setdefault(record.genome_hash, record)
    return first


def ancestry(records: Sequence[LineageRecord], genome_hash: str) -> list[LineageRecord]:
    """The genome's record, then every ancestor's, newest generation first, each once.

    Crossover gives a genome several parents, so ancestry is a graph; it is listed breadth first
    and sorted by generation (descending, ties by record index) so a seed always comes last.
    """
    known = by_hash(records)
    if genome_hash not in known:
        return []
    seen = {genome_hash}
    frontier = [genome_hash]
    found: list[LineageRecord] = []
    while frontier:
        current = known[frontier.pop(0)]
        found.append(current)
        for parent in current.parents:
            if parent in known and parent not in seen:
                seen.add(parent)
                frontier.append(parent)
    return sorted(found, key=lambda record: (-record.generation, record.index))


def closure(records: Sequence[LineageRecord], hashes: Iterable[str]) -> list[LineageRecord]:
    """The records of ``hashes`` and of all their ancestors, in record order."""
    keep: set[str] = set()
    for genome_hash in hashes:
        keep.update(record.genome_hash for record in ancestry(records, genome_hash))
    return sorted((r for r in by_hash(records).values() if r.genome_hash in keep), key=lambda r: r.index)


def generation_fitness(
    records: Sequence[LineageRecord], objective: int = 0
) -> list[tuple[int, float, float]]:
    """``(generation, best, mean)`` of one objective over the records of each generation."""
    per_generation: dict[int, list[float]] = {}
    for record in records:
        if len(record.values) > objective:
            per_generation.setdefault(record.generation, []).append(record.values[objective])
    return [
        (generation, max(values), sum(values) / len(values))
        for generation, values in sorted(per_generation.items())
    ]


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point dominates (both coordinates maximised)."""
    front = []
    for i, (a, b) in enumerate(points):
        dominated = any((c >= a and d >= b) and (c > a or d > b) for j, (c, d) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return front
