"""What every experiment has: items split into train/valid/test, and a way to score them.

Two kinds:

* **workflow** experiments (``quickstart``, ``humaneval``) evolve ``WorkflowGenome``s of a search
  space. They give each item's workflow ``inputs`` and ``score`` what the workflow answered; the
  runner compiles, runs and records the workflows.
* **custom** experiments (``symbolic_regression``, ``sim_workflow``) bring their own genome:
  ``problem()`` returns its operators, item function, fitness weights and exporter.

Selection sees the **valid** split only; the **test** split is scored once, for the report;
**train** items are what operators may show a model as examples.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from evoforum.errors import ConfigError, did_you_mean
from evoforum.evolve import Operators


@dataclass(frozen=True)
class Splits:
    """Item ids of each split (disjoint)."""

    train: tuple[str, ...]
    valid: tuple[str, ...]
    test: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.valid or not self.test:
            raise ConfigError("an experiment needs at least one valid and one test item")
        overlap = (set(self.train) & set(self.valid)) | (set(self.valid) & set(self.test))
        if overlap or set(self.train) & set(self.test):
            raise ConfigError(f"splits overlap: {sorted(overlap)[:5]}")


def split(ids: Sequence[str], sizes: tuple[int, int, int], seed: int) -> Splits:
    """``ids`` shuffled with ``seed`` and cut into train/valid/test of ``sizes``."""
    if sum(sizes) > len(ids):
        raise ConfigError(f"splits of {sum(sizes)} items asked for, only {len(ids)} exist")
    order = list(ids)
    random.Random(seed).shuffle(order)
    a, b, c = sizes
    return Splits(tuple(order[:a]), tuple(order[a : a + b]), tuple(order[a + b : a + b + c]))


@dataclass(frozen=True)
class Problem:
    """A custom experiment's genome side: operators, what one item scores, and how to export.

    ``item_fn(genome, item, seed)`` is a module-level function (so Ray workers can import it);
    ``describe(genome)`` is its JSON for tracking, ``export(genome)`` a runnable Python module,
    ``report(genome)`` extra figures for the summary (``{}`` when there are none).
    """

    operators: Operators
    item_fn: Callable[..., Any]
    weights: tuple[float, ...]
    describe: Callable[[Any], str]
    export: Callable[[Any], str]
    objectives: tuple[str, ...] = ("quality",)
    report: Callable[[Any], dict[str, Any]] = field(default=lambda genome: {})
    random_init: Callable[[random.Random], Any] | None = None
    seed: Callable[[random.Random], Any] | None = None
    """The seed workflow (what ``best_of_n`` samples); default: the first genome ``init`` makes."""


class Experiment:
    """Base of experiments. ``options`` come from the config's ``experiment.options``."""

    name: ClassVar[str]
    kind: ClassVar[Literal["workflow", "custom"]]
    uses_llm: ClassVar[bool] = False
    default_space: ClassVar[str | None] = None
    option_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: Mapping[str, Any] | None = None, seed: int = 0) -> None:
        self.options = dict(options or {})
        self.seed = seed
        for key in self.options:
            if key not in self.option_names:
                hint = did_you_mean(key, self.option_names)
                known = ", ".join(self.option_names) or "none"
                raise ConfigError(f"experiment.options.{key}: unknown option{hint}; known: {known}")

    def option(self, key: str, default: Any) -> Any:
        return self.options.get(key, default)

    def splits(self) -> Splits:
        raise NotImplementedError

    # -- workflow experiments ------------------------------------------------------------------

    def inputs(self, item: str) -> dict[str, Any]:
        """The workflow inputs of ``item``."""
        raise NotImplementedError

    def score(self, item: str, output: Any) -> tuple[str, str]:
        """``(source, entry)`` to run in the sandbox; it returns the item's score (0..1)."""
        raise NotImplementedError

    def baselines(self) -> dict[str, Any]:
        """Genomes scored on the test split beside the winner (name -> genome)."""
        return {}

    def matched_baselines(self, calls: float) -> dict[str, Any]:
        """Baselines sized to the winner's inference budget, scored on the test split after the
        others: ``calls`` is the winner's model tokens per test item over the first baseline's
        (so a baseline of ``round(calls)`` first-baseline calls spends about what the winner does)."""
        return {}

    def seed_indices(self) -> tuple[int, ...] | None:
        """Which seeds of the search space start the population (None: all)."""
        return None

    def examples(self) -> tuple[tuple[str, str], ...]:
        """Solved **train** items ``(problem, solution)`` the search space may show its models
        as few-shot examples (none by default)."""
        return ()

    def recall_items(self) -> tuple[tuple[str, str], ...]:
        """Solved **train** items ``(problem, solution)`` a run stores in its memory (the ``solved``
        collection, by the meaning of the problem) for the genomes' recall tasks; default: the
        ``examples``."""
        return self.examples()

    # -- custom experiments --------------------------------------------------------------------

    def problem(self) -> Problem:
        raise NotImplementedError
