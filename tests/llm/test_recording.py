"""Record and replay through the forum store: identical hashes, zero calls in replay (chat and
embeddings), loud misses."""

from __future__ import annotations

import random

import pytest

from evoforum.errors import ReplayMiss
from evoforum.forum import InMemoryStore
from evoforum.llm import ChatMessage, Ledger, Metered, OpenAICompatible, Recording, Retrying, chat_request
from evoforum.llm.recording import EMBEDDINGS, NAMESPACE, embedding_key, exchange_messages
from evoforum.llm.stub import StubServer

CODE = "```python\ndef f(x):\n    return x + 1 if x > 2 else x\n```"
REQUESTS = [
    chat_request("stub", "Rewrite: solve the problem carefully.", system="You rewrite prompts."),
    chat_request("stub", f"Improve:\n{CODE}", temperature=0.2),
    chat_request(
        "stub", "plan", schema={"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    ),
]


def stack(url: str, store: InMemoryStore, mode: str, ledger: Ledger) -> Recording:
    inner = Retrying(Metered(OpenAICompatible(url, "stub"), ledger), rng=random.Random(0), base_delay=0.0)
    return Recording(inner, store, mode, model="stub")  # type: ignore[arg-type]


async def test_record_then_replay_gives_identical_answers_and_no_calls() -> None:
    store = InMemoryStore()
    async with StubServer(seed=4, fault_rate=0.3) as server:
        recorder = stack(server.url, store, "record", Ledger())
        recorded = [await recorder.complete(r) for r in REQUESTS]
        await recorder.aclose()
    calls_when_recording = server.stats.requests
    async with StubServer(seed=999) as silent:  # a different model: replay must not ask it
        ledger = Ledger()
        player = stack(silent.url, store, "replay", ledger)
        streamed: list[str] = []
        replayed = [
            await player.complete(r, on_token=streamed.append if i == 1 else None)
            for i, r in enumerate(REQUESTS)
        ]
        await player.aclose()
    assert silent.stats.requests == 0
    # nothing asked, and every answer charged at its recorded usage, as the recording run was
    total = ledger.total()
    assert total.calls == total.recorded_calls == len(REQUESTS)
    assert total.tokens == sum(c.usage.prompt_tokens + c.usage.completion_tokens for c in recorded)
    assert calls_when_recording >= len(REQUESTS)
    assert [c.text for c in replayed] == [c.text for c in recorded]
    assert [c.usage.total_tokens for c in replayed] == [c.usage.total_tokens for c in recorded]
    assert all(c.replayed for c in replayed)
    assert not any(c.replayed for c in recorded)
    assert "".join(streamed) == replayed[1].text
    for request, first, second in zip(REQUESTS, recorded, replayed, strict=True):
        hashes = await store.get_ref(NAMESPACE, request.hash)
        assert hashes == [exchange_messages(request, first)[-1].hash]
        assert exchange_messages(request, second)[-1].hash == hashes[0]


async def test_the_exchange_is_a_branch_in_the_store() -> None:
    store = InMemoryStore()
    async with StubServer(seed=4) as server:
        recorder = stack(server.url, store, "record", Ledger())
        completion = await recorder.complete(REQUESTS[0])
        await recorder.aclose()
    (answer_hash,) = await store.get_ref(NAMESPACE, REQUESTS[0].hash) or []
    branch = await store.branch(answer_hash)
    assert [m.sender for m in branch] == ["system", "user", "assistant"]
    assert branch[-1].content == completion.text
    assert branch[-1].metadata["request_hash"] == REQUESTS[0].hash


async def test_replay_miss_is_loud() -> None:
    store = InMemoryStore()
    player = stack("http://127.0.0.1:9/v1", store, "replay", Ledger())
    with pytest.raises(ReplayMiss, match="never recorded") as caught:
        await player.complete(chat_request("stub", "never asked"))
    assert caught.value.request_hash == chat_request("stub", "never asked").hash


async def test_live_mode_writes_nothing(stub: StubServer) -> None:
    store = InMemoryStore()
    client = stack(stub.url, store, "live", Ledger())
    await client.complete(REQUESTS[0])
    await client.aclose()
    assert len(store) == 0


def test_request_hash_covers_model_messages_params_and_schema() -> None:
    base = chat_request("m", "hi")
    variants = [
        chat_request("other", "hi"),
        chat_request("m", "hi!"),
        chat_request("m", "hi", temperature=0.5),
        chat_request("m", "hi", schema={"type": "object"}),
        chat_request("m", "hi", system="be brief"),
    ]
    assert len({base.hash, *(v.hash for v in variants)}) == 6
    assert chat_request("m", "hi").hash == base.hash
    with pytest.raises(ValueError, match="unknown mode"):
        Recording(OpenAICompatible("http://x/v1", "m"), InMemoryStore(), "sometimes")  # type: ignore[arg-type]


def test_copies_of_a_request_get_their_own_hash() -> None:
    base = chat_request("m", "hi")
    assert base.hash  # computed and cached before the copies are made
    longer = base.with_messages(ChatMessage(role="assistant", content="hello"))
    other_model = base.model_copy(update={"model": "n"})
    assert longer.hash == chat_request("m", [("user", "hi"), ("assistant", "hello")]).hash
    assert other_model.hash == chat_request("n", "hi").hash
    assert base.model_copy().hash == base.hash


async def test_embeddings_are_recorded_and_replayed_without_a_call() -> None:
    store = InMemoryStore()
    texts = ["an edit of a workflow", "Be terse."]
    async with StubServer(seed=4) as server:
        recorder = stack(server.url, store, "record", Ledger())
        recorded = await recorder.embed(texts)
        await recorder.aclose()
    assert server.stats.embeddings == 2
    async with StubServer(seed=999) as silent:  # other vectors: replay must not ask it
        player = stack(silent.url, store, "replay", Ledger())
        replayed = await player.embed(texts)
        await player.aclose()
    assert silent.stats.embeddings == 0
    assert replayed == recorded
    (vectors_hash,) = await store.get_ref(EMBEDDINGS, embedding_key("stub", texts)) or []
    branch = await store.branch(vectors_hash)
    assert [m.sender for m in branch] == ["user", "embedder"]
    assert branch[0].content == texts


async def test_an_embedding_is_recorded_under_its_model() -> None:
    store = InMemoryStore()
    async with StubServer(seed=4) as server:
        recorder = stack(server.url, store, "record", Ledger())
        await recorder.embed(["one"])
        await recorder.embed(["one"], model="other")
        await recorder.aclose()
    player = stack("http://127.0.0.1:9/v1", store, "replay", Ledger())
    assert await player.embed(["one"], model="other")
    assert await player.embed(["one"])
    with pytest.raises(ReplayMiss, match="never recorded") as caught:
        await player.embed(["one"], model="third")
    assert caught.value.request_hash == embedding_key("third", ["one"])
    with pytest.raises(ReplayMiss, match="model 'stub'"):
        await player.embed(["one", "two"])  # another batch is another request
