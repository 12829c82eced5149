"""Excerpts of failed items for the LLM operators, from real sandbox verdicts of quickstart problems."""

from __future__ import annotations

from evoforum.evolve.operators.feedback import EXCERPT, EXCERPT_CHARS, FAILURE
from evoforum.run.scoring import item_excerpt, scoring_failure, workflow_failure
from evoforum.sandbox import Sandbox, SandboxLimits
from experiments._code import solution_source
from experiments.quickstart import PROBLEMS

LIMITS = SandboxLimits(cpu_s=2, wall_s=3.0, memory_mb=512)


async def _excerpt(code: str) -> dict[str, str]:
    problem = PROBLEMS["quick/rle"]
    verdict = await Sandbox(LIMITS).call(solution_source(problem, code), "__evoforum_score", limits=LIMITS)
    return item_excerpt("quick/rle", scoring_failure(verdict), code)


async def test_a_wrong_answer_names_the_failed_assertion_and_shows_the_code() -> None:
    found = await _excerpt("def rle(s):\n    return s\n")
    assert found[FAILURE] == "wrong"
    assert found[EXCERPT].startswith("problem quick/rle\nfailed: assert candidate('aaabcc') == 'a3b1c2'\n")
    assert "AssertionError" in found[EXCERPT]
    assert found[EXCERPT].endswith("code produced:\n    def rle(s):\n        return s")


async def test_an_exception_is_named_and_a_passing_answer_has_no_excerpt() -> None:
    found = await _excerpt("def rle(s):\n    return undefined_name\n")
    assert found[FAILURE] == "error"
    assert found[EXCERPT].startswith(
        "problem quick/rle\nfailed: assert candidate('aaabcc') == 'a3b1c2'\n"
        "NameError: name 'undefined_name' is not defined (at: return undefined_name)\n"
    )
    passing = "def rle(s):\n    import itertools\n    return ''.join(f'{k}{len(list(g))}' for k, g in itertools.groupby(s))\n"
    assert await _excerpt(passing) == {}


async def test_a_hanging_answer_is_a_timeout() -> None:
    found = await _excerpt("def rle(s):\n    while True:\n        pass\n")
    assert found[FAILURE] == "timeout"
    assert "ran out of time" in found[EXCERPT]


def test_a_long_answer_is_cut_within_the_cap() -> None:
    code = "def rle(s):\n" + "    x = 1\n" * 2000
    found = item_excerpt("quick/rle", workflow_failure(TimeoutError(), 30), code)
    assert found[FAILURE] == "timeout"
    assert len(found[EXCERPT]) <= EXCERPT_CHARS
    assert "# … (cut)" in found[EXCERPT]
    assert "the workflow ran past its time limit (30 s)" in found[EXCERPT]
