"""Scoring workflow genomes on items: compile, run, score the answer in the sandbox, keep the transcript."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest

import experiments
import search_spaces
from evoforum.errors import ServiceUnavailable
from evoforum.forum import Forum
from evoforum.genome import DagSpec, FunctionAgentSpec, TaskSpec, WireSpec, WorkflowGenome
from evoforum.genome.flows import FromInputSpec
from evoforum.genome.library import library_files
from evoforum.llm import OpenAICompatible
from evoforum.llm.stub import StubServer
from evoforum.run.scoring import WorkflowScorer
from evoforum.sandbox import Sandbox

QUICK = experiments.get("quickstart")


def answering(body: str) -> WorkflowGenome:
    """A one-task workflow whose function returns ``body`` as the answer to any problem."""
    code = f"def solve(problem: str) -> str:\n    return {body!r}\n"
    task = TaskSpec(
        name="answer",
        agent="solver",
        inputs=(WireSpec(parameter="problem", source=FromInputSpec(name="problem")),),
    )
    return WorkflowGenome(
        inputs=("problem",),
        agents=(FunctionAgentSpec(name="solver", function="solve"),),
        code=code,
        entry=DagSpec(tasks=(task,)),
    )


@pytest.fixture
async def stub_llm() -> AsyncIterator[OpenAICompatible]:
    async with StubServer(seed=2) as stub:
        client = OpenAICompatible(stub.url, "stub")
        try:
            yield client
        finally:
            await client.aclose()


@pytest.mark.parametrize(
    ("answer", "score"),
    [("def largest(xs):\n    return max(xs)\n", 1.0), ("def largest(xs):\n    return xs[0]\n", 0.0)],
)
async def test_answers_are_scored_by_the_items_tests(answer: str, score: float) -> None:
    forum = Forum()
    fn = WorkflowScorer(QUICK, llm=None, forum=forum, sandbox=Sandbox(), model=None, timeout_s=60).score
    result = await fn(answering(answer), "quick/largest", 0)
    assert result.values == (score,)
    assert result.error is None
    branch = await forum.branch(result.transcripts[0])
    assert "def largest" in str(branch[0].content)  # the run starts from the problem it was given
    assert branch[-1].content == answer


async def test_a_failing_workflow_scores_zero_and_keeps_its_conversation(stub_llm: OpenAICompatible) -> None:
    space = search_spaces.get("code_writing")
    rng = np.random.default_rng(0)
    genome = next(g for g in (space.random_genome(rng) for _ in range(50)) if "def keep_better" in g.code)
    keep = 'attempts = int(best.get("attempts", 0)) + 1'
    broken = genome.code.replace(keep, 'raise RuntimeError("broken keeper")')
    assert broken != genome.code
    genome = genome.model_copy(update={"code": broken})  # the space's loops end by themselves: break one
    forum = Forum()
    sandbox = Sandbox(files=library_files())
    fn = WorkflowScorer(QUICK, llm=stub_llm, forum=forum, sandbox=sandbox, model="stub", timeout_s=60).score
    result = await fn(genome, "quick/largest", 0)  # genome code run by the sandbox
    assert result.values == (0.0,)
    assert result.info["tokens"] > 0
    branch = await forum.branch(result.transcripts[0])
    assert branch[-1].kind == "error"
    assert len(branch) > 2  # the steps before the failure are in the branch


async def test_a_model_server_that_stopped_answering_stops_the_run_instead_of_failing_the_candidate() -> None:
    async with StubServer(seed=2) as stub:
        url = stub.url
    client = OpenAICompatible(url, "stub")  # the server is gone: nothing listens at its port
    try:
        genome = search_spaces.get("code_writing").seeds()[2]  # the single call
        scorer = WorkflowScorer(
            QUICK, llm=client, forum=Forum(), sandbox=Sandbox(), model="stub", timeout_s=60
        )
        with pytest.raises(ServiceUnavailable, match="evoforum services up"):
            await scorer.score(genome, "quick/largest", 0)
    finally:
        await client.aclose()


async def test_the_latency_and_cost_objectives_are_measured_in_the_configs_order(
    stub_llm: OpenAICompatible,
) -> None:
    seed = search_spaces.get("code_writing").seeds()[0]
    scorer = WorkflowScorer(
        QUICK,
        llm=stub_llm,
        forum=Forum(),
        sandbox=Sandbox(),
        model="stub",
        timeout_s=60,
        objectives=("latency", "cost"),
    )
    result = await scorer.score(seed, "quick/largest", 0)
    quality, latency, tokens = result.values
    assert 0.0 <= quality <= 1.0
    assert latency == result.info["latency_s"]
    assert 0.0 < latency < 60.0  # wall seconds of the workflow's run
    assert tokens == result.info["tokens"] > 0
