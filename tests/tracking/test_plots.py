"""The experiment's pictures say what a reader needs: the lineage labelled, coloured and readable."""

from __future__ import annotations

import random
from pathlib import Path

from evoforum.evolve.lineage import LineageRecord
from evoforum.tracking import ancestry, plots


def record(index: int, genome: str, parents: tuple[str, ...], generation: int, value: float) -> LineageRecord:
    operator = "init" if not parents else "cxOnePoint" if len(parents) == 2 else "mut_prompt"
    return LineageRecord(
        index=index, genome_hash=genome * 16, parents=tuple(p * 16 for p in parents), operator=operator,
        generation=generation, values=(value,), items=3,
    )  # fmt: skip


SMALL = [
    record(0, "a", (), 0, 0.1),
    record(1, "b", (), 0, 0.2),
    record(2, "c", ("a",), 1, 0.3),
    record(3, "d", ("c", "b"), 2, 0.9),
    record(4, "e", ("a",), 2, 0.4),
]


def drawn(records: list[LineageRecord], winner: str | None) -> object:
    plt = plots._pyplot()
    figure, axes = plt.subplots()
    plots.draw_lineage(figure, axes, records, winner)
    figure.canvas.draw()
    plt.close(figure)
    return axes


def test_every_node_is_labelled_with_short_hash_operator_and_fitness() -> None:
    axes = drawn(SMALL, "d" * 16)
    labels = {text.get_text() for text in axes.texts}  # type: ignore[attr-defined]
    assert "dddddddddd · cxOnePoint · 0.9" in labels
    assert "aaaaaaaaaa · init · 0.1" in labels
    assert len(labels) == len(SMALL)


def test_generations_are_whole_numbered_ticks() -> None:
    axes = drawn(SMALL, None)
    ticks = [t for t in axes.get_yticks() if 0 <= t <= 2]  # type: ignore[attr-defined]
    assert ticks
    assert all(float(t).is_integer() for t in ticks)


def test_nodes_are_coloured_by_fitness_and_the_winners_ancestry_stands_out() -> None:
    axes = drawn(SMALL, "d" * 16)
    faded, strong = axes.collections  # type: ignore[attr-defined]
    assert len(strong.get_offsets()) == 4  # d, c, a, b: the winner and its ancestors
    assert faded.get_alpha() < strong.get_alpha() == 1.0
    assert len({tuple(c) for c in strong.get_facecolors()}) == 4  # four fitness values, four colours


def test_five_hundred_candidates_label_only_the_winners_ancestry_and_fade_the_rest(tmp_path: Path) -> None:
    rng = random.Random(0)
    records = [record(i, f"{i:04x}", (), 0, rng.random()) for i in range(50)]
    for i in range(50, 500):  # a third are crossovers of two earlier genomes
        parents = rng.sample(records, 2 if i % 3 == 0 else 1)
        records.append(
            record(i, f"{i:04x}", tuple(p.genome_hash[:4] for p in parents), i // 50, rng.random())
        )
    winner = records[-1].genome_hash
    line = {r.genome_hash for r in ancestry(records, winner)}
    axes = drawn(records, winner)
    assert len(axes.texts) == len(line) < 40  # type: ignore[attr-defined]
    faded, strong = axes.collections  # type: ignore[attr-defined]
    assert len(strong.get_offsets()) == len(line)  # the best path, strong
    assert len(faded.get_offsets()) == 500 - len(line)  # every other genome, faded
    assert faded.get_alpha() < strong.get_alpha() == 1.0
    edges = [edge for edge in axes.lines if edge.get_color() == "crimson"]  # type: ignore[attr-defined]
    assert edges
    assert all(edge.get_alpha() == 1.0 for edge in edges)
    assert all(edge.get_alpha() < 1.0 for edge in axes.lines if edge not in edges)  # type: ignore[attr-defined]
    path = plots.lineage_graph(records, winner, tmp_path / "lineage.png")
    assert path.stat().st_size > 10_000


def test_the_fitness_picture_draws_each_baseline_as_a_labelled_reference_line(tmp_path: Path) -> None:
    plt = plots._pyplot()
    figure, axes = plt.subplots()
    plots.draw_fitness(axes, SMALL, references={"single_call (test)": 0.55, "best_of_k (test)": 0.7})
    plt.close(figure)
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend == ["best", "mean", "single_call (test) 0.55", "best_of_k (test) 0.7"]
    baselines = [line for line in axes.lines if line.get_linestyle() == "--"]
    assert [tuple(line.get_ydata()) for line in baselines] == [(0.55, 0.55), (0.7, 0.7)]  # horizontal
    path = plots.fitness_over_generations(SMALL, tmp_path / "fitness.png", references={"single_call": 0.5})
    assert path.stat().st_size > 10_000


def test_the_fitness_picture_without_baselines_has_only_the_curves() -> None:
    plt = plots._pyplot()
    figure, axes = plt.subplots()
    plots.draw_fitness(axes, SMALL)
    plt.close(figure)
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["best", "mean"]
