"""Every candidate runs on the standard runtime: its runtime provides the run's bus, memory, forum
and model through ``Depends``, and a candidate that runs out of time cancels its agents' promises
and the model calls they have in flight."""

from __future__ import annotations

import asyncio
from typing import Any

import experiments
import search_spaces
from evoforum.bus import MemoryBus
from evoforum.flow import Depends, providers
from evoforum.forum import Forum, Message
from evoforum.genome.runnable import ASKED
from evoforum.llm import OpenAICompatible, chat_request
from evoforum.llm.stub import StubServer
from evoforum.memory import Memory, MemoryKV
from evoforum.run.llm import Sampling
from evoforum.run.scoring import WorkflowScorer
from evoforum.sandbox import Sandbox
from tests._waiting import eventually

QUICK = experiments.get("quickstart")
SINGLE_CALL = search_spaces.get("code_writing").seeds()[2]  # draft (the writer) >> extract_draft


class Seen(Forum):
    """An in-memory forum that keeps every message posted to it, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.posted: list[Message] = []

    async def post(self, message: Message) -> Any:
        self.posted.append(message)
        return await super().post(message)

    async def post_many(self, messages: Any) -> Any:
        self.posted.extend(messages)
        return await super().post_many(messages)


async def test_the_candidates_runtime_provides_the_runs_bus_memory_forum_and_model() -> None:
    forum, bus, memory = Forum(), MemoryBus(), Memory.in_process("run_test")
    async with StubServer(seed=2) as stub:
        client = OpenAICompatible(stub.url, "stub")
        scorer = WorkflowScorer(
            QUICK,
            llm=client,
            forum=forum,
            bus=bus,
            memory=memory,
            sandbox=Sandbox(),
            model="stub",
            timeout_s=60,
        )
        runtime, written, sampling = scorer.runtime(7, "quick/largest")

        async def needs(
            bus: Any = Depends(providers.bus),
            memory: Any = Depends(providers.memory),
            forum: Any = Depends(providers.forum),
            llm: Any = Depends(providers.llm),
        ) -> tuple[Any, Any, Any, Any]:
            return bus, memory, forum, llm

        try:
            got_bus, got_memory, got_forum, got_llm = await runtime.call(needs)
        finally:
            await runtime.aclose()
            await client.aclose()
    assert got_bus is bus
    assert got_memory is memory
    assert got_forum is written
    posted = await got_forum.post(Message("a note"))
    assert (await forum.get(posted)).text == "a note"  # what the workflow posts lands in the run's forum
    assert isinstance(got_llm, Sampling)
    assert got_llm is sampling
    assert (got_llm.inner, got_llm.seed, got_llm.item) == (client, 7, "quick/largest")


async def test_a_scorer_given_no_services_runs_its_candidates_on_an_in_process_bus_and_memory() -> None:
    scorer = WorkflowScorer(QUICK, llm=None, forum=Forum(), sandbox=Sandbox(), model=None, timeout_s=60)
    assert isinstance(scorer.bus, MemoryBus)
    assert isinstance(scorer.memory, Memory)
    assert isinstance(scorer.memory.kv, MemoryKV)
    runtime, _, _ = scorer.runtime(0, "quick/largest")
    assert (runtime.bus, runtime.memory) == (scorer.bus, scorer.memory)


async def test_a_candidate_that_runs_out_of_time_cancels_its_agent_and_the_model_call() -> None:
    forum = Seen()
    async with StubServer(seed=2, token_delay=0.2) as stub:  # its 15-word answer takes 3 s
        client = OpenAICompatible(stub.url, "stub")
        try:
            await client.complete(chat_request("stub", "warm up", max_tokens=1))  # loads the client
            scorer = WorkflowScorer(
                QUICK, llm=client, forum=forum, sandbox=Sandbox(), model="stub", timeout_s=1.0
            )
            result = await scorer.score(SINGLE_CALL, "quick/largest", 0)
            await eventually(lambda: any(m.kind == "cancelled" for m in forum.posted))
            await asyncio.sleep(4.0)  # longer than the whole answer would have streamed
        finally:
            await client.aclose()
        assert (stub.stats.requests, stub.stats.answered) == (2, 1)  # the stream was cut, not read out
    assert result.values == (0.0,)
    assert result.info["failure"] == "timeout"
    [marker] = [m for m in forum.posted if m.kind == "cancelled"]
    prompt = await forum.get(str(marker.parent))
    assert prompt.metadata["event"] == ASKED
    assert prompt.sender == "draft"
    assert marker.sender == "writer"
    assert marker.text  # tokens had streamed through the promise before it was cancelled
    transcript = await forum.branch(result.transcripts[0])
    assert transcript[-1].kind == "error"  # the failure hangs below the flow's messages,
    assert prompt.hash not in {m.hash for m in transcript}  # not below the agent's call
