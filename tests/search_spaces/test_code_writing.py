"""The code-writing space: its tools on realistic model answers, and loops that keep the best code."""

from __future__ import annotations

import builtins
from typing import Any

import pytest

import search_spaces
from evoforum.flow import Runtime
from evoforum.genome import to_workflow
from search_spaces._code_tools import TOOLS, code_for
from search_spaces.library import code_tools
from tests.genome.helpers import Scripted

FENCE = "`" * 3
PROBLEM = (
    "from typing import List\n\n\ndef evens(numbers: List[int]) -> List[int]:\n"
    '    """The even numbers, in order.\n\n    >>> evens([1, 2, 3, 4])\n    [2, 4]\n'
    "    >>> evens([])\n    []\n\n    evens([5, 6]) == [6]\n"
    '    evens([7]) ➞ []\n    """\n'
)
RIGHT = "def evens(numbers):\n    return [n for n in numbers if n % 2 == 0]\n"
HALF = "def evens(numbers):\n    return [n for n in numbers if n % 2 == 0][:1]\n"  # passes 3 of 4
WRONG = "def evens(numbers):\n    return numbers\n"


@pytest.fixture(scope="module")
def tools() -> dict[str, Any]:
    """The space's tools and its library, loaded into a namespace of this test (this project's code)."""
    namespace: dict[str, Any] = {}
    exec(builtins.compile(code_for(list(TOOLS)), "<tools>", "exec"), namespace)
    return {**vars(code_tools), **namespace}


ANSWERS = {
    "fenced, then prose": (f"{FENCE}python\n{RIGHT}{FENCE}\n\nThis keeps the even numbers.", RIGHT),
    "example calls below": (
        f"{FENCE}python\nfrom typing import List\n\n{RIGHT}\n# Example usage\nprint(evens([1, 2]))\n"
        f"assert evens([2]) == [2]\nresult = evens([4])\nif __name__ == '__main__':\n    print(result)\n{FENCE}",
        f"from typing import List\n\n{RIGHT}",
    ),
    "a shell block first": (
        f"Run:\n{FENCE}\npip install nothing\n{FENCE}\nThen:\n{FENCE}py\n{RIGHT}{FENCE}",
        RIGHT,
    ),
    "cut off by the token limit": (f"{FENCE}python\n{RIGHT}\nprint(evens(", RIGHT),
    "no fence, prose around": (f"Here is the function:\n{RIGHT}It returns the evens.", RIGHT),
    "a completed body": ("    return [n for n in numbers if n % 2 == 0]\n",) * 2,
    "decorated, constants kept": (
        f"{FENCE}python\nLIMIT = 3\n\n@staticmethod\n{RIGHT}{FENCE}",
        f"LIMIT = 3\n\n@staticmethod\n{RIGHT}",
    ),
}


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_extract_code_on_realistic_answers(tools: dict[str, Any], name: str) -> None:
    answer, code = ANSWERS[name]
    assert tools["extract_code"](answer) == code


def test_check_code_counts_doctest_and_stated_examples(tools: dict[str, Any]) -> None:
    right = tools["check_code"](PROBLEM, RIGHT)
    assert (right["passed"], right["score"], right["total"]) == (True, 4, 4)
    half = tools["check_code"](PROBLEM, HALF)
    assert (half["passed"], half["score"]) == (False, 3)
    assert half["failures"] == ["evens([1, 2, 3, 4]) returned [2] instead of [2, 4]"]
    body = tools["check_code"](PROBLEM, "    return [n for n in numbers if n % 2 == 0]\n")
    assert body["score"] == 4  # a completed body runs after the problem's signature
    broken = tools["check_code"](PROBLEM, "def evens(:\n")
    assert broken["score"] == -1


def test_check_code_stops_a_loop_that_never_ends(tools: dict[str, Any]) -> None:
    report = tools["check_code"](PROBLEM, "def evens(numbers):\n    while True:\n        pass\n")
    assert report["score"] == 0
    assert report["failures"] == ["evens([1, 2, 3, 4]) raised TimeoutError: no answer within 1 s"]


def test_keep_better_never_replaces_code_with_worse(tools: dict[str, Any]) -> None:
    best = tools["check_code"](PROBLEM, HALF)
    kept = tools["keep_better"](PROBLEM, WRONG, best)
    assert (kept["code"], kept["score"], kept["attempts"]) == (HALF, 3, 1)
    assert "evens([5, 6]) returned [5, 6] instead of [6]" in kept["rejected"]
    tie = tools["keep_better"](PROBLEM, HALF.replace("[:1]", "[:1][:1]"), kept)
    assert (tie["code"], tie["attempts"]) == (HALF, 2)  # as good is not better: the earlier code stays
    better = tools["keep_better"](PROBLEM, RIGHT, tie)
    assert (better["code"], better["passed"], better["attempts"], better["rejected"]) == (RIGHT, True, 3, [])
    shown = tools["failure_report"](kept)
    assert HALF in shown
    assert "- evens([1, 2, 3, 4]) returned [2] instead of [2, 4]" in shown
    assert "Another attempt got these wrong:\n- evens([1, 2, 3, 4]) returned [1, 2, 3, 4]" in shown
    assert HALF not in tools["failure_hints"](kept)  # a fresh attempt is not shown code to copy


async def _run(seed: int, *answers: str) -> tuple[Any, Scripted]:
    genome = search_spaces.get("code_writing").seeds()[seed]
    llm = Scripted(*(f"{FENCE}python\n{answer}{FENCE}" for answer in answers))
    async with Runtime(llm=llm, transcripts=False) as runtime:
        return await runtime.run(to_workflow(genome), {"problem": PROBLEM}), llm


@pytest.mark.parametrize("seed", [0, 1])
async def test_a_fix_that_is_worse_never_replaces_the_draft(seed: int) -> None:
    result, llm = await _run(seed, HALF, WRONG, "def evens(:\n")
    assert result.output == HALF
    assert [path[-1] for path in result.trace] == ["write", "fix", "fix", "done"]
    assert "returned [1, 2, 3, 4] instead of" in llm.requests[2].messages[-1].content  # told of the first


async def test_a_better_fix_replaces_the_draft_and_ends_the_loop() -> None:
    result, llm = await _run(0, WRONG, RIGHT)
    assert result.output == RIGHT
    assert [path[-1] for path in result.trace] == ["write", "fix", "done"]
    assert "returned [1, 2, 3, 4] instead of [2, 4]" in llm.requests[1].messages[-1].content


async def test_a_passing_draft_is_the_single_calls_answer() -> None:
    loop, loop_llm = await _run(0, RIGHT)
    single, single_llm = await _run(2, RIGHT)
    assert loop.output == single.output == RIGHT
    assert [path[-1] for path in loop.trace] == ["write", "done"]
    assert loop_llm.requests == single_llm.requests  # the same request: one cached answer serves both
