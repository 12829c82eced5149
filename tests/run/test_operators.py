"""Workflow operators and the runner's LLM layers, against the stub model over real HTTP."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

import search_spaces
from evoforum.errors import LLMMisbehaved
from evoforum.forum import InMemoryStore
from evoforum.genome import LLMAgent
from evoforum.llm import OpenAICompatible, Recording, chat_request
from evoforum.llm.stub import StubServer
from evoforum.run._llm import Cached, Sampling
from evoforum.run._operators import WorkflowOperators, clean_prompt

SPACE = search_spaces.get("code_writing")


@pytest.fixture
async def stub() -> AsyncIterator[StubServer]:
    async with StubServer(seed=3) as server:
        yield server


def operators(llm: object = None, **weights: float) -> WorkflowOperators:
    return WorkflowOperators(SPACE, seeds=(0,), weights=weights or {"mutate": 1.0}, llm=llm)  # type: ignore[arg-type]


def system_prompts(genome: object) -> dict[str, str]:
    return {a.name: a.system_prompt for a in genome.agents if isinstance(a, LLMAgent)}  # type: ignore[attr-defined]


def test_clean_prompt_strips_labels_and_quotes() -> None:
    assert (
        clean_prompt('New system prompt: "You write tested code."\n\nExtra text') == "You write tested code."
    )


def test_clean_prompt_rejects_an_empty_answer() -> None:
    with pytest.raises(LLMMisbehaved):
        clean_prompt("  \n ")


def test_init_gives_the_chosen_seeds_first_then_valid_variants() -> None:
    ops = operators()
    rng = random.Random(0)
    first, second = ops.init(rng), ops.init(rng)
    assert first.hash == SPACE.seeds()[0].hash
    assert second.hash != first.hash
    assert SPACE.check(second) == []


async def test_structural_mutation_changes_a_prompt_or_temperature_and_stays_valid() -> None:
    ops = operators()
    seed = SPACE.seeds()[0]
    rng = random.Random(5)
    children = [await ops.mutate(seed, rng) for _ in range(10)]
    assert all(SPACE.check(child) == [] for child in children)
    assert any(child.hash != seed.hash for child in children)
    assert {child.metadata.origin.get("operator") for child in children if child.hash != seed.hash} == {
        "mutate"
    }


async def test_llm_rewrite_puts_the_model_answer_into_a_system_prompt(stub: StubServer) -> None:
    client = OpenAICompatible(stub.url, "stub")
    try:
        ops = operators(client, rewrite=1.0)
        seed = SPACE.seeds()[0]
        child = await ops.mutate(seed, random.Random(2))
    finally:
        await client.aclose()
    assert stub.stats.answered == 1
    assert child.metadata.origin["operator"] == "rewrite"
    changed = [name for name, text in system_prompts(child).items() if text != system_prompts(seed)[name]]
    assert len(changed) == 1
    assert SPACE.check(child) == []


async def test_cached_answers_a_recorded_request_without_asking_again(stub: StubServer) -> None:
    inner = OpenAICompatible(stub.url, "stub")
    recording = Recording(inner, InMemoryStore(), "record")
    client = Cached(recording, recording)
    try:
        request = chat_request("stub", "Write a haiku about hashes.")
        first = await client.complete(request)
        second = await client.complete(request)
    finally:
        await client.aclose()
    assert stub.stats.answered == 1
    assert client.hits == 1
    assert second.text == first.text


async def test_sampling_seed_makes_a_distinct_request(stub: StubServer) -> None:
    inner = OpenAICompatible(stub.url, "stub")
    recording = Recording(inner, InMemoryStore(), "record")
    cached = Cached(recording, recording)
    try:
        request = chat_request("any-name", "Write a haiku about hashes.")
        one = Sampling(cached, seed=1, model="stub", max_tokens=50)
        two = Sampling(cached, seed=2, model="stub", max_tokens=50)
        await one.complete(request)
        await one.complete(request)
        await two.complete(request)
    finally:
        await inner.aclose()
    assert stub.stats.answered == 2
    assert one.calls == 2
    assert one.tokens > 0
