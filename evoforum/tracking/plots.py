"""Experiment pictures: the lineage graph, fitness over generations (with the experiment's baselines)
and the cost/quality front.

matplotlib is imported lazily and drawn with the Agg backend (no display), each figure closed after
it is saved. Every function but the ``draw_*`` ones (which draw on given axes) writes one PNG and
returns its path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import cycle
from pathlib import Path
from typing import Any

from evoforum.evolve.lineage import LineageRecord
from evoforum.tracking.ancestry import ancestry, by_hash, generation_fitness, pareto_front
from evoforum.tracking.runs import SHORT


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


LABEL_ALL = 30
"""Up to this many genomes every node is labelled; beyond, only the winner's ancestry."""


def lineage_graph(
    records: Sequence[LineageRecord], winner: str | None, path: Path, objective: str = "quality"
) -> Path:
    """The lineage as a picture (see ``draw_lineage``)."""
    plt = _pyplot()
    rows = {record.generation for record in by_hash(records).values()}
    widest = max(Counter(r.generation for r in by_hash(records).values()).values(), default=1)
    figure, axes = plt.subplots(figsize=(min(24.0, max(10.0, 0.35 * widest)), max(3.5, 0.9 * len(rows) + 2)))
    draw_lineage(figure, axes, records, winner, objective)
    return _save(plt, figure, path)


def draw_lineage(
    figure: Any, axes: Any, records: Sequence[LineageRecord], winner: str | None, objective: str = "quality"
) -> None:
    """Every genome as a dot (row = generation, a row ordered by fitness), coloured by its fitness,
    an edge to each parent. The winner's ancestry is drawn strong and the rest faded; its nodes are
    labelled with short hash, operator and fitness (every node is, up to ``LABEL_ALL`` genomes).
    Generations are whole-numbered ticks."""
    from matplotlib.ticker import MaxNLocator

    nodes = by_hash(records)
    rows: dict[int, list[LineageRecord]] = {}
    for record in nodes.values():
        rows.setdefault(record.generation, []).append(record)
    where: dict[str, tuple[float, int]] = {}
    for generation, row in rows.items():
        row.sort(key=lambda r: r.values[0] if r.values else float("-inf"))
        for i, record in enumerate(row):
            where[record.genome_hash] = (i / max(len(row) - 1, 1) if len(row) > 1 else 0.5, generation)
    line = {r.genome_hash for r in ancestry(records, winner)} if winner else set()
    faded = 0.3 if line else 1.0
    for record in nodes.values():
        x, y = where[record.genome_hash]
        for parent in record.parents:
            if parent in where:
                px, py = where[parent]
                on_line = record.genome_hash in line and parent in line
                axes.plot(
                    [px, x], [py, y], color="crimson" if on_line else "0.6",
                    lw=2.0 if on_line else 0.5, alpha=1.0 if on_line else faded, zorder=3 if on_line else 1,
                )  # fmt: skip
    scored = [r for r in nodes.values() if r.values]
    unscored = [r for r in nodes.values() if not r.values]
    if unscored:
        ux, uy = zip(*(where[r.genome_hash] for r in unscored), strict=True)
        axes.scatter(ux, uy, s=14, color="0.7", alpha=faded, zorder=2)
    if scored:
        values = [r.values[0] for r in scored]
        low, high = min(values), max(values)
        for group, alpha, size, zorder in ((False, faded, 18, 2), (True, 1.0, 60, 4)):
            chosen = [r for r in scored if (r.genome_hash in line) == group]
            if not chosen:
                continue
            xs, ys = zip(*(where[r.genome_hash] for r in chosen), strict=True)
            dots = axes.scatter(
                xs, ys, c=[r.values[0] for r in chosen], cmap="viridis", vmin=low, vmax=high, s=size,
                alpha=alpha, edgecolors="crimson" if group else "none", linewidths=1.5, zorder=zorder,
            )  # fmt: skip
        figure.colorbar(dots, ax=axes, label=objective, fraction=0.03, pad=0.01)
    labelled = nodes.values() if len(nodes) <= LABEL_ALL else [nodes[h] for h in line]
    for record in labelled:
        x, y = where[record.genome_hash]
        axes.annotate(
            node_label(record), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7,
            alpha=1.0 if record.genome_hash in line or not line else 0.6, zorder=5,
        )  # fmt: skip
    axes.set_xticks([])
    axes.set_xlim(-0.05, 1.3)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("generation")
    axes.invert_yaxis()
    title = "lineage" + (" (the winner's ancestry in red)" if line else "")
    axes.set_title(title)


def node_label(record: LineageRecord) -> str:
    """``0123456789 · mutate · 0.62``: short hash, operator (cut at 20 characters) and fitness."""
    fitness = f"{record.values[0]:.3g}" if record.values else "-"
    return f"{record.genome_hash[:SHORT]} · {record.operator[:20]} · {fitness}"


def fitness_over_generations(
    records: Sequence[LineageRecord],
    path: Path,
    objective: int = 0,
    references: Mapping[str, float] | None = None,
) -> Path:
    """The fitness over generations as a picture (see ``draw_fitness``)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 4))
    draw_fitness(axes, records, objective, references)
    return _save(plt, figure, path)


def draw_fitness(
    axes: Any,
    records: Sequence[LineageRecord],
    objective: int = 0,
    references: Mapping[str, float] | None = None,
) -> None:
    """Best and mean fitness of each generation, and each of ``references`` (label -> score: the
    experiment's baselines) as a dashed horizontal line, its label and score in the legend."""
    rows = generation_fitness(records, objective)
    if rows:
        generations, best, mean = zip(*rows, strict=True)
        axes.plot(generations, best, marker="o", label="best")
        axes.plot(generations, mean, marker=".", label="mean")
    from matplotlib import rcParams
    from matplotlib.ticker import MaxNLocator

    styles = rcParams["axes.prop_cycle"].by_key()["color"][2:]
    for (label, value), color in zip((references or {}).items(), cycle(styles), strict=False):
        axes.axhline(value, linestyle="--", linewidth=1.2, color=color, label=f"{label} {value:.3g}")
    if rows or references:
        axes.legend(fontsize=8)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("generation")
    axes.set_ylabel("fitness")
    axes.set_title("fitness over generations")


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
