"""Reasoning: short-answer questions from the seeded task generators of ``reasoning-gym``.

``reasoning-gym`` (Apache-2.0, pinned in ``pyproject.toml``) generates reasoning tasks with
reference answers from a seed, so the items need no data files: the same options give the same
questions. Each item is one generated question (``{"question": ...}``, the input of the
``qa_ensemble`` space) and its reference answer, kept in the driver; a question generated twice is
kept once, so no question is in two splits.

Options: ``tasks`` (generator names, default ``["chain_sum", "basic_arithmetic"]``), ``train``, ``valid``,
``test`` (split sizes, default 4/30/100; the tasks' items are pooled, then split), ``split_seed``
(default 0: the generators' seed and the split's shuffle), ``seeds`` (which seed genomes of the
space start the population). The report sets the winner's test score beside a single call of the
same model on the same test items (``baselines``): the space's first seed, so evolution starts
at least at the baseline.

Scoring runs in the sandbox, standard library only (``SCORER``): a numeric reference is matched
by the last number of the answer (thousands separators dropped; ``3/4`` and ``0.75`` are equal),
another by the answer's last line, lower-cased, without punctuation or a trailing full stop. A
wrong answer fails with an ``AssertionError`` naming what was found (never the reference), which
the LLM operators see as the item's excerpt.
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import Any

from evoforum.errors import ConfigError
from evoforum.genome import Metadata, WorkflowGenome
from experiments._base import Experiment, Splits, split

DEFAULT_TASKS = ("chain_sum", "basic_arithmetic")

SCORER = r'''
import re
from fractions import Fraction

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")


def _number(text):
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


def _words(text):
    return " ".join(re.sub(r"[^\w\s/.-]", " ", text.lower()).split()).rstrip(".")


def final_answer(answer, reference):
    """What ``answer`` gives as its final answer, in the form of ``reference``."""
    text = answer if isinstance(answer, str) else str(answer)
    if _number(reference.strip()) is not None:
        found = _NUMBER.findall(text.replace(",", ""))
        return found[-1] if found else ""
    lines = [line for line in text.splitlines() if line.strip()]
    return _words(lines[-1]) if lines else ""


def matches(answer, reference):
    """Whether ``answer``'s final answer is ``reference``."""
    found = final_answer(answer, reference)
    expected = _number(reference.strip())
    if expected is not None:
        return found != "" and _number(found) == expected
    return found == _words(reference)


def __evoforum_score():
    if not matches(ANSWER, REFERENCE):
        raise AssertionError(f"final answer {final_answer(ANSWER, REFERENCE)!r} is wrong")
    return 1.0
'''


@cache
def generate(tasks: tuple[str, ...], seed: int, per_task: int) -> dict[str, tuple[str, str]]:
    """``per_task`` distinct questions of each task generator, seeded with ``seed``: item id
    (``task/index``) -> (question, reference answer)."""
    try:
        with warnings.catch_warnings():  # a dependency's modules warn when first compiled
            warnings.simplefilter("ignore", SyntaxWarning)
            import reasoning_gym
    except ModuleNotFoundError:
        raise ConfigError("reasoning-gym not found: install reasoning-gym==0.1.25") from None
    items: dict[str, tuple[str, str]] = {}
    seen: set[str] = set()
    for task in tasks:
        try:
            dataset = reasoning_gym.create_dataset(task, seed=seed, size=per_task * 3)
        except (KeyError, ValueError) as error:
            raise ConfigError(f"experiment.options.tasks: {error}") from None
        kept = 0
        for index in range(per_task * 3):
            entry = dataset[index]
            question, answer = str(entry["question"]), str(entry["answer"])
            if question in seen:
                continue
            seen.add(question)
            items[f"{task}/{index}"] = (question, answer)
            kept += 1
            if kept == per_task:
                break
        if kept < per_task:
            raise ConfigError(f"reasoning-gym task {task!r} gives only {kept} distinct questions")
    return items


def single_call() -> WorkflowGenome:
    """The baseline: one greedy call of the model on the question, its last line the answer (the
    ``qa_ensemble`` space's first seed, so the same hash and the same model requests)."""
    from search_spaces.qa_ensemble import QAEnsemble

    genome = QAEnsemble().seeds()[0]
    return genome.model_copy(
        update={"metadata": Metadata(name="single-call", origin={"baseline": "single_call"})}
    )


class Reasoning(Experiment):
    name = "reasoning"
    kind = "workflow"
    uses_llm = True
    default_space = "qa_ensemble"
    option_names = ("tasks", "train", "valid", "test", "split_seed", "seeds")

    def __init__(self, options: dict[str, Any] | None = None, seed: int = 0) -> None:
        super().__init__(options, seed)
        tasks = self.option("tasks", DEFAULT_TASKS)
        self.tasks = (tasks,) if isinstance(tasks, str) else tuple(str(task) for task in tasks)
        if not self.tasks:
            raise ConfigError("experiment.options.tasks: name at least one reasoning-gym task")
        self.sizes = (
            int(self.option("train", 4)),
            int(self.option("valid", 30)),
            int(self.option("test", 100)),
        )
        self.split_seed = int(self.option("split_seed", 0))
        per_task = -(-sum(self.sizes) // len(self.tasks))  # ceiling: the pool holds every split
        self.items = dict(generate(self.tasks, self.split_seed, per_task))

    def splits(self) -> Splits:
        return split(sorted(self.items), self.sizes, self.split_seed)

    def inputs(self, item: str) -> dict[str, Any]:
        return {"question": self.items[item][0]}

    def reference(self, item: str) -> str:
        """The reference answer of ``item``, as reasoning-gym gives it."""
        return self.items[item][1]

    def score(self, item: str, output: Any) -> tuple[str, str]:
        answer = output if isinstance(output, str) else str(output)
        values = f"ANSWER = {answer!r}\nREFERENCE = {self.reference(item)!r}\n"
        return values + SCORER, "__evoforum_score"

    def baselines(self) -> dict[str, Any]:
        return {"single_call": single_call()}

    def seed_indices(self) -> tuple[int, ...] | None:
        seeds = self.option("seeds", None)
        return tuple(int(s) for s in seeds) if seeds is not None else None
