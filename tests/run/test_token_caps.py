"""An LLM agent's token cap reaches the model: it wins over the run's cap (``Sampling``), which
fills in for agents without one."""

from __future__ import annotations

from evoforum.flow import Runtime
from evoforum.genome import WorkflowGenome, to_workflow
from evoforum.run.llm import Sampling
from tests.genome.helpers import Scripted, pipeline


def capped(max_tokens: int | None) -> WorkflowGenome:
    writer, loud = pipeline().agents
    return pipeline(agents=(writer.model_copy(update={"max_tokens": max_tokens}), loud))


async def test_the_genomes_cap_wins_over_the_runs_and_the_runs_fills_in() -> None:
    llm = Scripted("a", "b", "c")
    sampling = Sampling(llm, seed=0, max_tokens=384)
    async with Runtime(llm=sampling, transcripts=False) as runtime:
        for cap in (256, 768, None):
            await runtime.run(to_workflow(capped(cap)), {"topic": "cats"})
    assert [request.params.max_tokens for request in llm.requests] == [256, 768, 384]
