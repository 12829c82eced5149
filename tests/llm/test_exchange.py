"""Exchanges as forum branches, streamed through a MessagePromise to several readers."""

from __future__ import annotations

import asyncio
import random
from typing import cast

import pytest

from evoforum.errors import LLMUnavailable, PromiseCancelled
from evoforum.forum import Forum, InMemoryStore, Message
from evoforum.llm import OpenAICompatible, Recording, Retrying, chat, chat_request
from evoforum.llm.exchange import request_from_branch
from evoforum.llm.protocol import LLMClient
from evoforum.llm.recording import NAMESPACE, request_messages
from evoforum.llm.stub import StubServer
from evoforum.llm.types import ChatRequest, Completion

CODE = "```python\ndef grow(n):\n    return [i * 2 for i in range(n) if i > 1]\n```"


async def test_two_readers_stream_the_same_tokens_and_the_answer_closes_the_branch(stub: StubServer) -> None:
    forum = Forum()
    client = OpenAICompatible(stub.url, "stub")
    request = chat_request("stub", f"Improve:\n{CODE}", system="You improve code.")
    promise = chat(client, request, forum=forum)

    async def read() -> list[str]:
        return [token async for token in promise]

    first, second = await asyncio.gather(read(), read())
    answer = await promise
    await client.aclose()
    assert len(first) > 5
    assert first == second
    assert "".join(first) == answer.text
    branch = await forum.branch(answer.hash)
    assert [m.sender for m in branch] == ["system", "user", "assistant"]
    assert answer.metadata["request_hash"] == request.hash
    assert answer.metadata["usage"]["completion_tokens"] > 0


async def test_same_exchange_same_hash_and_recording_agrees(stub: StubServer) -> None:
    store = InMemoryStore()
    forum = Forum(store)
    client = Recording(OpenAICompatible(stub.url, "stub"), store, "record")
    request = chat_request("stub", "Rewrite: answer the question briefly.")
    first = await chat(client, request, forum=forum)
    second = await chat(client, request, forum=Forum())
    await client.aclose()
    assert first.hash == second.hash
    assert await store.get_ref(NAMESPACE, request.hash) == [first.hash]


async def test_exchange_continues_a_branch(stub: StubServer) -> None:
    forum = Forum()
    root = Message("You are terse.", "system")
    question = Message("Write a short answer: what is a tree?", "user", root.hash)
    await forum.post_many([root, question])
    client = OpenAICompatible(stub.url, "stub")
    request = request_from_branch("stub", await forum.branch(question.hash))
    assert [m.role for m in request.messages] == ["system", "user"]
    answer = await chat(client, chat_request("stub", "And a graph?"), forum=forum, at=question.hash)
    await client.aclose()
    senders = [m.sender for m in await forum.branch(answer.hash)]
    assert senders == ["system", "user", "user", "assistant"]


async def test_a_failure_is_an_error_message_and_raises_the_llm_error() -> None:
    forum = Forum()
    async with StubServer(fault_rate=1.0, faults=("error_500",)) as server:
        client = Retrying(
            OpenAICompatible(server.url, "stub"), rng=random.Random(0), attempts=2, base_delay=0
        )
        request = chat_request("stub", "hello")
        with pytest.raises(LLMUnavailable, match="after 2 attempts"):
            await chat(client, request, forum=forum)
        await client.aclose()
    (question,) = request_messages(request)
    (error,) = await forum.children(question.hash)
    assert error.kind == "error"
    assert "LLMUnavailable" in error.content["type"]


async def test_cancel_stops_the_call_and_leaves_a_marker() -> None:
    forum = Forum()
    async with StubServer(latency=30.0) as server:
        client = OpenAICompatible(server.url, "stub")
        promise = chat(client, chat_request("stub", "slow one"), forum=forum)
        await asyncio.sleep(0.1)
        assert promise.cancel()
        marker = await promise.settled()
        await client.aclose()
    assert marker.kind == "cancelled"
    assert (await forum.get(marker.hash)).kind == "cancelled"


class _Silent:
    """A model that never answers."""

    async def complete(self, request: ChatRequest, *, on_token: object = None) -> Completion:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


async def test_cancelling_an_exchange_at_once_raises_cancelled_and_records_the_marker() -> None:
    forum = Forum()
    request = chat_request("stub", "hello", system="Be brief.")
    promise = chat(cast(LLMClient, _Silent()), request, forum=forum)
    assert promise.cancel()
    with pytest.raises(PromiseCancelled):
        await promise
    marker = await promise.settled()
    assert marker.kind == "cancelled"
    assert [m.sender for m in await forum.branch(marker.hash)] == ["system", "user", "assistant"]
