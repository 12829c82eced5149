"""Code-writing items in HumanEval's form (prompt, entry point, ``check(candidate)`` tests).

A workflow answers with code; the item's score is 1.0 when the tests pass in the sandbox, else
0.0 (pass@1). The score runs as sandbox source, never in the driver.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from experiments._base import Experiment

RUNNER = """

def __evoforum_score():
    check({entry})
    return 1.0
"""


class CodeProblem(BaseModel):
    """One problem: a function ``prompt`` (signature and docstring) and its tests."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    task_id: str
    prompt: str
    entry_point: str
    test: str
    canonical_solution: str = ""


def solution_source(problem: CodeProblem, code: Any) -> str:
    """The module a candidate's answer becomes, then the problem's tests and a scoring entry point.

    An answer that defines the entry point follows the prompt with its function as a stub (so the
    prompt's imports and helper functions stay, and the answer's definitions replace the stub);
    any other answer is the body that completes the prompt.
    """
    text = code if isinstance(code, str) else str(code)
    module = problem.prompt + text
    if re.search(rf"^\s*def {re.escape(problem.entry_point)}\b", text, re.MULTILINE):
        module = _stubbed(problem.prompt) + "\n\n" + text
    return module + "\n\n" + problem.test + RUNNER.format(entry=problem.entry_point)


def _stubbed(prompt: str) -> str:
    """``prompt`` with ``pass`` as the body of its last function (its imports, when that does not parse)."""
    last = prompt.rstrip().splitlines()[-1]
    stub = prompt.rstrip() + "\n" + last[: len(last) - len(last.lstrip())] + "pass\n"
    try:
        ast.parse(stub)
    except SyntaxError:
        return "\n".join(line for line in prompt.splitlines() if line.startswith(("import ", "from ")))
    return stub


class CodeExperiment(Experiment):
    """A workflow experiment over code problems; subclasses provide ``problems``."""

    kind = "workflow"
    uses_llm = True
    default_space = "code_writing"
    problems: dict[str, CodeProblem]

    def inputs(self, item: str) -> dict[str, Any]:
        return {"problem": self.problems[item].prompt}

    def score(self, item: str, output: Any) -> tuple[str, str]:
        return solution_source(self.problems[item], output), "__evoforum_score"

    def examples(self) -> tuple[tuple[str, str], ...]:
        """The first two train problems that have a canonical solution, solved."""
        return self.recall_items()[:2]

    def recall_items(self) -> tuple[tuple[str, str], ...]:
        """Every train problem that has a canonical solution, solved."""
        solved = [self.problems[i] for i in self.splits().train if self.problems[i].canonical_solution]
        return tuple((p.prompt, p.prompt + p.canonical_solution) for p in solved)

    def seed_indices(self) -> tuple[int, ...] | None:
        seeds = self.option("seeds", None)
        return tuple(int(s) for s in seeds) if seeds is not None else None
