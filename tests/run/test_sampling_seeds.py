"""Sampling seeds: k samples of one prompt differ, and a rerun asks the very same requests."""

from __future__ import annotations

from typing import Any

import search_spaces
from evoforum.flow import Runtime
from evoforum.forum import InMemoryStore
from evoforum.genome import DagSpec, FunctionAgentSpec, LLMAgentSpec, TaskSpec, WorkflowGenome, to_workflow
from evoforum.genome.runnable import call_seed
from evoforum.llm import ChatRequest, Completion, OpenAICompatible, Recording
from evoforum.llm._tokens import count_prompt
from evoforum.llm.protocol import Wrapper
from evoforum.llm.stub import StubServer
from evoforum.run.llm import Sampling, sampling_seed
from search_spaces._base import wire
from tests.genome.helpers import Scripted

CODE = "def both(a: str, b: str) -> str:\n    return a + '|' + b\n"


def two_drafts(temperature: float) -> WorkflowGenome:
    """Two draft tasks of one writer (one prompt), joined by a function."""
    return WorkflowGenome(
        inputs=("topic",),
        agents=(
            LLMAgentSpec(name="writer", model="m", prompt="About {topic}", temperature=temperature),
            FunctionAgentSpec(name="join", function="both"),
        ),
        code=CODE,
        entry=DagSpec(
            tasks=(
                TaskSpec(name="draft_1", agent="writer", inputs=(wire("topic", "topic"),)),
                TaskSpec(name="draft_2", agent="writer", inputs=(wire("topic", "topic"),)),
                TaskSpec(
                    name="pair",
                    agent="join",
                    inputs=(wire("a", "draft_1", task=True), wire("b", "draft_2", task=True)),
                ),
            )
        ),
    )


async def _seeds(genome: WorkflowGenome, answers: int, inputs: dict[str, Any]) -> list[int | None]:
    llm = Scripted(*(f"answer {i}" for i in range(answers)))
    async with Runtime(llm=llm, transcripts=False) as runtime:
        await runtime.run(to_workflow(genome), inputs)
    return [request.params.seed for request in llm.requests]


async def test_two_drafts_of_one_prompt_ask_with_different_seeds_and_a_rerun_with_the_same() -> None:
    first = await _seeds(two_drafts(0.8), 2, {"topic": "owls"})
    assert sorted(first, key=str) == sorted([call_seed("draft_1", 0), call_seed("draft_2", 0)], key=str)
    assert len(set(first)) == 2
    again = await _seeds(two_drafts(0.8), 2, {"topic": "owls"})
    assert sorted(again, key=str) == sorted(first, key=str)


async def test_a_greedy_agent_names_no_seed() -> None:
    assert await _seeds(two_drafts(0.0), 2, {"topic": "owls"}) == [None, None]


async def test_each_attempt_of_a_state_is_its_own_seed() -> None:
    """The retry seed samples its fresh attempts at 0.7: attempt 0 and 1 of ``fix/repair`` differ."""
    genome = search_spaces.get("code_writing").seeds()[1]
    problem = 'def one() -> int:\n    """One.\n\n    >>> one()\n    1\n    """\n'
    wrong = "```python\ndef one():\n    return 2\n```"
    llm = Scripted(wrong, wrong, wrong)
    async with Runtime(llm=llm, transcripts=False) as runtime:
        await runtime.run(to_workflow(genome), {"problem": problem})
    seeds = [request.params.seed for request in llm.requests]
    assert seeds == [None, call_seed("fix/repair", 0), call_seed("fix/repair", 1)]


class Seen(Wrapper):
    """Keeps every request that passes."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.requests: list[ChatRequest] = []

    async def complete(self, request: ChatRequest, *, on_token: Any = None) -> Completion:
        self.requests.append(request)
        return await self.inner.complete(request, on_token=on_token)


async def test_sampling_mixes_run_item_and_call_site_seeds_into_the_recorded_requests() -> None:
    store = InMemoryStore()
    async with StubServer(seed=1) as server:
        client = OpenAICompatible(server.url, "stub")
        recording = Recording(client, store)
        seen = Seen(recording)
        try:
            answers = {}
            for item in ("a", "b"):
                sampling = Sampling(seen, seed=7, item=item)
                async with Runtime(llm=sampling, transcripts=False) as runtime:
                    result = await runtime.run(to_workflow(two_drafts(0.8)), {"topic": "owls"})
                answers[item] = result.output
        finally:
            await client.aclose()
    sites = (call_seed("draft_1", 0), call_seed("draft_2", 0))
    sent = {sampling_seed(7, item, site) for item in ("a", "b") for site in sites}
    assert {request.params.seed for request in seen.requests} == sent
    assert len(sent) == 4  # two items x two drafts: four different seeds
    assert len({request.hash for request in seen.requests}) == 4
    for request in seen.requests:  # each recorded under its own hash (the seed is part of the key)
        assert await recording.lookup(request) is not None
    assert len(set(answers["a"].split("|"))) == 2  # the stub answered the two drafts differently


async def test_an_items_tokens_count_its_embeddings_too() -> None:
    sampling = Sampling(Scripted(), seed=0, item="x")
    texts = ["a solved problem", "another one"]
    assert await sampling.embed(texts) == [[0.0], [0.0]]
    assert sampling.tokens == count_prompt(texts) > 0
