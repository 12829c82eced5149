"""k samples of one prompt: one request per seed, recorded and replayed one by one."""

from __future__ import annotations

import pytest

from evoforum.errors import ReplayMiss
from evoforum.forum import InMemoryStore
from evoforum.llm import OpenAICompatible, Recording, chat_request
from evoforum.llm.samples import sample, sample_requests
from evoforum.llm.stub import StubServer

REQUEST = chat_request("stub", "Write a function that adds two numbers.", system="Be brief.", temperature=0.8)


def test_the_samples_differ_only_in_their_seeds() -> None:
    requests = sample_requests(REQUEST, 4, seed=10)
    assert [r.params.seed for r in requests] == [10, 11, 12, 13]
    assert len({r.hash for r in requests}) == 4
    for request in requests:
        assert request.messages == REQUEST.messages
        assert request.params.model_copy(update={"seed": None}) == REQUEST.params


def test_the_seeds_start_at_the_request_seed_by_default() -> None:
    seeded = REQUEST.model_copy(update={"params": REQUEST.params.model_copy(update={"seed": 7})})
    assert [r.params.seed for r in sample_requests(seeded, 2)] == [7, 8]
    assert [r.params.seed for r in sample_requests(REQUEST, 2)] == [0, 1]


def test_k_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        sample_requests(REQUEST, 0)


async def test_each_sample_is_recorded_and_replayed_on_its_own() -> None:
    store = InMemoryStore()
    async with StubServer(seed=3) as server:
        recorder = Recording(OpenAICompatible(server.url, "stub"), store, "record")
        recorded = await sample(recorder, REQUEST, 3, seed=5)
        await recorder.aclose()
        assert server.stats.answered == 3
    assert len({c.text for c in recorded}) == 3  # the stub answers each seed differently
    assert [c.request_hash for c in recorded] == [r.hash for r in sample_requests(REQUEST, 3, seed=5)]
    async with StubServer(seed=99) as silent:
        player = Recording(OpenAICompatible(silent.url, "stub"), store, "replay")
        replayed = await sample(player, REQUEST, 3, seed=5)
        with pytest.raises(ReplayMiss):  # a fourth seed was never asked
            await sample(player, REQUEST, 4, seed=5)
        await player.aclose()
        assert silent.stats.requests == 0
    assert [c.text for c in replayed] == [c.text for c in recorded]
    assert all(c.replayed for c in replayed)
