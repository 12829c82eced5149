"""HumanEval's scoring of whole-function answers, and the code tools against every problem's docstring."""

from __future__ import annotations

import pytest

import search_spaces
from evoforum.genome.library import library_files
from evoforum.sandbox import Sandbox
from experiments._code import solution_source
from experiments.humaneval import load_problems, single_call
from search_spaces._code_tools import code_for

HELPED = "HumanEval/10"  # make_palindrome: its prompt defines the helper is_palindrome


async def _score(task: str, answer: str) -> float:
    result = await Sandbox().call(solution_source(load_problems()[task], answer), "__evoforum_score")
    return float(result.value) if result.ok else 0.0


async def test_a_whole_function_answer_keeps_the_prompts_helpers_and_imports() -> None:
    problem = load_problems()[HELPED]
    body = problem.canonical_solution
    assert "is_palindrome(" in body
    whole = f"def {problem.entry_point}(string: str) -> str:\n{body}"  # calls the prompt's helper
    assert await _score(HELPED, whole) == 1.0
    assert await _score(HELPED, body) == 1.0  # an answer that completes the prompt
    assert await _score(HELPED, f"def {problem.entry_point}(string):\n    return string\n") == 0.0


@pytest.mark.parametrize("task", ["HumanEval/0", "HumanEval/66", "HumanEval/72", "HumanEval/108"])
async def test_canonical_solutions_pass_the_examples_check_code_finds(task: str) -> None:
    """Doctest examples, ``f(x) == y`` doctests, and stated lines (``=>``, ``➞``) are all found."""
    problem = load_problems()[task]
    code = code_for(["check_code"])
    whole = problem.prompt + problem.canonical_solution
    good = (
        await Sandbox(files=library_files()).call(
            code, "check_code", kwargs={"problem": problem.prompt, "code": whole}
        )
    ).value
    assert isinstance(good, dict)
    assert good["passed"]
    assert good["total"] >= 1
    wrong = f"def {problem.entry_point}(*args):\n    return None\n"
    bad = (
        await Sandbox(files=library_files()).call(
            code, "check_code", kwargs={"problem": problem.prompt, "code": wrong}
        )
    ).value
    assert isinstance(bad, dict)
    assert bad["score"] < good["score"]


def test_the_baseline_is_the_spaces_single_call_seed() -> None:
    seeds = search_spaces.get("code_writing").seeds()
    assert single_call().hash == seeds[2].hash  # seed 2: a population of 3 starts with it
    assert single_call().metadata.origin == {"baseline": "single_call"}
