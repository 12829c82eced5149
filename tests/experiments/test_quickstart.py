"""The quickstart's problems: each is solvable, and the valid ones catch the small model's slips."""

from __future__ import annotations

import pytest

import experiments
from evoforum.sandbox import Sandbox
from experiments._code import solution_source
from experiments.quickstart import PROBLEMS

SOLVED = {
    "quick/second_largest": "    return sorted(set(xs))[-2]\n",
    "quick/word_lengths": (
        "    counts = {}\n"
        "    for word in s.split():\n"
        "        counts[len(word)] = counts.get(len(word), 0) + 1\n"
        "    return counts\n"
    ),
    "quick/last_word": "    words = s.split()\n    return len(words[-1]) if words else 0\n",
}
SLIPS = {  # answers of the kind Qwen2.5-Coder-0.5B gives on its first greedy try
    "quick/second_largest": "    values = set(xs)\n    values.sort(reverse=True)\n    return values[1]\n",
    "quick/word_lengths": (
        "    counts = {}\n"
        "    for word in s.split():\n"
        "        counts[word] = counts.get(word, 0) + 1\n"
        "    return counts\n"
    ),
    "quick/last_word": "    return len(s.split(' ')[-1])\n",
}


def test_the_valid_split_is_what_the_slips_and_solutions_cover() -> None:
    assert set(experiments.get("quickstart").splits().valid) == set(SOLVED) == set(SLIPS)


@pytest.mark.parametrize("task", sorted(SOLVED))
async def test_a_solution_passes_and_a_typical_slip_fails(task: str) -> None:
    problem = PROBLEMS[task]
    sandbox = Sandbox()
    solved = await sandbox.call(solution_source(problem, SOLVED[task]), "__evoforum_score")
    slipped = await sandbox.call(solution_source(problem, SLIPS[task]), "__evoforum_score")
    assert (solved.ok, solved.value) == (True, 1.0)
    assert not slipped.ok
