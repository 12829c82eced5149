"""An exported module asks what its genome asks: each sampled call carries the same call-site
seed (``seed=sites.seed("state/task")``), so k drafts of one prompt and the repeated fixes of a
loop differ, as they did in the run, and a rerun asks the same requests."""

from __future__ import annotations

from typing import Any

import search_spaces
from evoforum.codegen import export
from evoforum.flow import Runtime
from evoforum.genome import WorkflowGenome, to_workflow
from tests.genome.helpers import Scripted
from tests.search_spaces.test_code_blocks import PROBLEM, SQUARE, ZERO, answer

SPACE = search_spaces.get("code_writing")


def _module(genome: WorkflowGenome) -> Any:
    namespace: dict[str, Any] = {"__name__": "exported"}
    exec(compile(export(genome), "<exported>", "exec"), namespace)  # this project's own export
    return namespace["workflow"]


async def _requests(workflow: Any, answers: list[str]) -> list[tuple[float, int | None]]:
    llm = Scripted(*answers)
    async with Runtime(llm=llm, transcripts=False) as runtime:
        await runtime.run(workflow, {"problem": PROBLEM})
    return sorted((r.params.temperature or 0.0, r.params.seed) for r in llm.requests)


async def test_an_exported_best_of_k_sends_its_genomes_seeds() -> None:
    genome = SPACE.seeds()[3]  # best-of-4 at temperature 0.8
    answers = [answer(code) for code in (ZERO, SQUARE, ZERO, SQUARE)]
    compiled = await _requests(to_workflow(genome), list(answers))
    exported = await _requests(_module(genome), list(answers))
    assert exported == compiled
    assert len({seed for _, seed in exported}) == 4  # four drafts, four seeds


async def test_an_exported_loop_seeds_each_fix_attempt_apart_and_leaves_greedy_calls_unseeded() -> None:
    genome = SPACE.seeds()[0]  # greedy draft, then fixes at temperature 0.2 until the examples pass
    answers = [answer(ZERO)] * 3
    compiled = await _requests(to_workflow(genome), list(answers))
    exported = await _requests(_module(genome), list(answers))
    assert exported == compiled
    assert exported[0] == (0.0, None)  # the greedy draft names no seed
    assert len({seed for _, seed in exported[1:]}) == 2  # two fix attempts, two seeds
