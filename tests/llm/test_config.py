"""``LLMConfig`` from files and environment, and the standard stack built from it."""

from __future__ import annotations

import random

import numpy as np
import pytest

from evoforum.errors import BudgetExceeded, ConfigError
from evoforum.forum import InMemoryStore
from evoforum.llm import Budget, Ledger, Metered, Recording, Retrying, chat_request
from evoforum.llm.accounting import meter_below
from evoforum.llm.config import LLMConfig, build_client, open_client
from evoforum.llm.recording import Offline
from evoforum.llm.stub import StubServer


def test_environment_fills_what_the_config_leaves_open() -> None:
    env = {
        "EVOFORUM_LLM_URL": "https://api.openai.com/v1",
        "EVOFORUM_LLM_MODEL": "gpt-4o-mini",
        "OPENAI_API_KEY": "sk-test",
    }
    config = LLMConfig.from_env(env)
    assert (config.url, config.model, config.api_key) == (
        "https://api.openai.com/v1",
        "gpt-4o-mini",
        "sk-test",
    )
    assert "sk-test" not in repr(config)
    assert LLMConfig.from_env({**env, "EVOFORUM_LLM_KEY": "own"}).api_key == "own"
    assert LLMConfig.from_env(env, model="other").model == "other"
    assert LLMConfig.from_env({}).url is None


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="mode"):
        LLMConfig.from_env({"EVOFORUM_LLM_MODE": "sometimes"})
    with pytest.raises(ConfigError, match="no model URL"):
        build_client(LLMConfig(), ledger=Ledger(), rng=random.Random(0))
    with pytest.raises(ConfigError, match="needs a forum store"):
        build_client(LLMConfig(url="http://x/v1", mode="replay"), ledger=Ledger(), rng=random.Random(0))


def test_config_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="extra"):
        LLMConfig.model_validate({"url": "http://x/v1", "modle": "m"})


async def test_the_standard_stack_records_and_charges(stub: StubServer) -> None:
    ledger, store = Ledger(), InMemoryStore()
    config = LLMConfig(url=stub.url, model="stub", mode="record", budget=Budget(max_tokens=10_000))
    async with open_client(config, ledger=ledger, rng=np.random.default_rng(5), store=store) as client:
        assert isinstance(client, Recording)
        assert isinstance(client.inner, Retrying)
        assert isinstance(client.inner.inner, Metered)
        completion = await client.complete(chat_request("stub", "Rewrite: be brief."))
    assert ledger.total().calls == 1
    assert ledger.total().completion_tokens == completion.usage.completion_tokens
    assert len(store) == 2


async def test_a_replay_stack_needs_no_server_and_asks_none(stub: StubServer) -> None:
    store = InMemoryStore()
    recording = LLMConfig(url=stub.url, model="stub", mode="record")
    async with open_client(recording, ledger=Ledger(), rng=random.Random(0), store=store) as client:
        answer = await client.complete(chat_request("stub", "Rewrite: be brief."))
        vectors = await client.embed(["be brief"])
    asked = (stub.stats.requests, stub.stats.embeddings)
    replay = LLMConfig(mode="replay")  # no URL: nothing is asked of any server
    ledger = Ledger()
    async with open_client(replay, ledger=ledger, rng=random.Random(0), store=store, model="stub") as client:
        assert isinstance(client, Recording)
        assert isinstance(meter_below(client), Metered)
        assert isinstance(meter_below(client).inner, Offline)  # type: ignore[union-attr]
        assert (await client.complete(chat_request("stub", "Rewrite: be brief."))).text == answer.text
        assert await client.embed(["be brief"]) == vectors
    assert (stub.stats.requests, stub.stats.embeddings) == asked
    # the replay spends what the recorded run spent: both answers charged, marked as recorded
    total = ledger.total()
    assert (total.calls, total.recorded_calls) == (2, 2)
    assert ledger.entries[0].completion_tokens == answer.usage.completion_tokens > 0
    assert total.tokens == total.recorded_tokens > answer.usage.completion_tokens


async def test_a_replay_stops_at_the_budget_the_recorded_answers_reach(stub: StubServer) -> None:
    store = InMemoryStore()
    recording = LLMConfig(url=stub.url, model="stub", mode="record")
    prompts = [f"Rewrite: be brief {i}." for i in range(3)]
    ledger = Ledger()
    async with open_client(recording, ledger=ledger, rng=random.Random(0), store=store) as client:
        for prompt in prompts:
            await client.complete(chat_request("stub", prompt))
    two = sum(e.prompt_tokens + e.completion_tokens for e in ledger.entries[:2])
    replay = LLMConfig(mode="replay", budget=Budget(max_tokens=two))
    async with open_client(
        replay, ledger=Ledger(), rng=random.Random(0), store=store, model="stub"
    ) as client:
        for prompt in prompts[:2]:
            await client.complete(chat_request("stub", prompt))
        with pytest.raises(BudgetExceeded):
            await client.complete(chat_request("stub", prompts[2]))
