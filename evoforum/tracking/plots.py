"""Experiment pictures: the lineage graph, fitness over generations and the cost/quality front.

matplotlib is imported lazily and drawn with the Agg backend (no display), each figure closed after
it is saved. Every function writes one PNG and returns its path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evoforum.evolve.lineage import LineageRecord
from evoforum.tracking.ancestry import ancestry, by_hash, generation_fitness, pareto_front


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def lineage_graph(records: Sequence[LineageRecord], winner: str | None, path: Path) -> Path:
    """Every genome as a dot (row = generation), an edge to each parent; the winner's ancestry in red."""
    plt = _pyplot()
    nodes = by_hash(records)
    rows: dict[int, list[str]] = {}
    for record in nodes.values():
        rows.setdefault(record.generation, []).append(record.genome_hash)
    where = {h: (i / max(len(row) - 1, 1), gen) for gen, row in rows.items() for i, h in enumerate(row)}
    line = {r.genome_hash for r in ancestry(records, winner)} if winner else set()
    figure, axes = plt.subplots(figsize=(10, max(3.0, 0.5 * len(rows) + 2)))
    for record in nodes.values():
        x, y = where[record.genome_hash]
        for parent in record.parents:
            if parent in where:
                px, py = where[parent]
                on_line = record.genome_hash in line and parent in line
                axes.plot(
                    [px, x],
                    [py, y],
                    color="crimson" if on_line else "0.75",
                    lw=1.6 if on_line else 0.5,
                    zorder=1,
                )
    xs, ys = zip(*where.values(), strict=True) if where else ((), ())
    axes.scatter(xs, ys, s=12, color="0.35", zorder=2)
    if line:
        lx, ly = zip(*(where[h] for h in line), strict=True)
        axes.scatter(lx, ly, s=30, color="crimson", zorder=3, label="winner's ancestry")
        axes.legend(loc="upper left")
    axes.set_xticks([])
    axes.set_ylabel("generation")
    axes.invert_yaxis()
    axes.set_title("lineage")
    return _save(plt, figure, path)


def fitness_over_generations(records: Sequence[LineageRecord], path: Path, objective: int = 0) -> Path:
    """Best and mean fitness of each generation."""
    plt = _pyplot()
    rows = generation_fitness(records, objective)
    figure, axes = plt.subplots(figsize=(7, 4))
    if rows:
        generations, best, mean = zip(*rows, strict=True)
        axes.plot(generations, best, marker="o", label="best")
        axes.plot(generations, mean, marker=".", label="mean")
        axes.legend()
    axes.set_xlabel("generation")
    axes.set_ylabel("fitness")
    axes.set_title("fitness over generations")
    return _save(plt, figure, path)


def cost_quality_front(points: Sequence[tuple[float, float]], path: Path, cost: str = "cost") -> Path:
    """Quality against cost of every candidate, the non-dominated ones (high quality, low cost)
    joined; ``cost`` names the minimised objective (tokens, latency_s)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 4.5))
    if points:
        costs = [cost for _, cost in points]
        qualities = [quality for quality, _ in points]
        axes.scatter(costs, qualities, s=10, color="0.6", label="candidates")
        front = sorted(pareto_front([(q, -c) for q, c in points]), key=lambda i: costs[i])
        axes.plot(
            [costs[i] for i in front], [qualities[i] for i in front], "o-", color="crimson", label="front"
        )
        axes.legend()
    axes.set_xlabel(cost)
    axes.set_ylabel("quality")
    axes.set_title(f"{cost} / quality")
    return _save(plt, figure, path)


def _save(plt: Any, figure: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
