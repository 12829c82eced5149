"""Compiled LLM agents are forum agents: their answers stream through a promise, land in the forum
as a branch of their own, and each genome's agent has an identity of its own."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from evoforum.errors import LLMUnavailable
from evoforum.flow import Runtime
from evoforum.forum import Forum
from evoforum.genome import LLMAgentSpec, to_workflow
from evoforum.genome.runnable import ASKED, llm_agent, prompt_message
from evoforum.llm import ChatRequest, Completion, OpenAICompatible, TokenSink
from evoforum.llm.stub import StubServer
from tests.genome.helpers import pipeline

WRITER = LLMAgentSpec(name="writer", model="m", system_prompt="Be brief.", prompt="About {topic}")


class Failing:
    """A model client whose every call fails as a server that went away does."""

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        raise LLMUnavailable("connection refused", status=None, retryable=True)

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> list[list[float]]:
        raise LLMUnavailable("connection refused")

    async def aclose(self) -> None:
        return None


async def test_the_agents_answer_streams_token_by_token_and_is_the_models_text() -> None:
    async with StubServer(seed=4) as stub:
        client = OpenAICompatible(stub.url, "stub")
        try:
            prompt = prompt_message(WRITER, {"topic": "rivers"})
            promise = llm_agent(WRITER)([prompt], llm=client)
            tokens = [token async for token in promise]
            answer = await promise
        finally:
            await client.aclose()
    assert len(tokens) > 3  # streamed piece by piece, not handed over whole
    assert "".join(tokens) == answer.text != ""
    assert answer.sender == "writer"
    assert answer.parent == prompt.hash


async def test_a_compiled_genomes_llm_call_is_a_branch_of_the_forum() -> None:
    forum = Forum()
    async with StubServer(seed=4) as stub:
        client = OpenAICompatible(stub.url, "stub")
        try:
            async with Runtime(llm=client, forum=forum) as runtime:
                result = await runtime.run(to_workflow(pipeline()), {"topic": "rivers"})
        finally:
            await client.aclose()
    prompt = prompt_message(WRITER, {"topic": "rivers"}, asker="draft")
    assert (await forum.get(prompt.hash)).metadata["event"] == ASKED
    [answer] = await forum.children(prompt.hash)
    assert answer.sender == "writer"
    assert result.outputs["draft"] == answer.text  # the task's value is the agent's answer
    assert result.output == answer.text.upper() + "!"
    assert [m.hash for m in await forum.branch(answer.hash)] == [prompt.hash, answer.hash]


def test_agents_of_specs_that_differ_in_anything_have_different_identities() -> None:
    variants = [
        WRITER,
        WRITER.model_copy(update={"prompt": "Tell me about {topic}"}),
        WRITER.model_copy(update={"system_prompt": "Be long."}),
        WRITER.model_copy(update={"temperature": 0.7}),
        WRITER.model_copy(update={"max_tokens": 64}),
        WRITER.model_copy(update={"model": "other"}),
    ]
    identities = {llm_agent(spec).identity for spec in variants}
    assert len(identities) == len(variants)
    assert llm_agent(WRITER).identity == llm_agent(WRITER.model_copy()).identity
    assert all("/writer@" in identity for identity in identities)


async def test_a_failed_model_call_fails_the_task_with_the_models_own_error() -> None:
    async with Runtime(llm=Failing(), transcripts=False) as runtime:
        result = await runtime.run(to_workflow(pipeline()), {"topic": "rivers"})
    error = result.errors["draft"]
    cause = error.details.get("cause")
    assert isinstance(cause, LLMUnavailable)  # not an AgentFailed standing in for it
    assert cause.details["retryable"] is True


async def test_outside_a_runtime_the_agent_says_it_needs_a_model() -> None:
    from evoforum.errors import AgentFailed, UsageError

    promise = llm_agent(WRITER)([prompt_message(WRITER, {"topic": "x"})])
    with pytest.raises(AgentFailed, match="needs 'llm'") as raised:
        await promise
    assert isinstance(raised.value.details["cause"], UsageError)
