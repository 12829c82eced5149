"""The ``LLMClient`` contract: the stub-backed client, the wrapped stack and the real local model."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from evoforum.llm import Ledger, LLMClient, OpenAICompatible, chat_request
from evoforum.llm.config import LLMConfig, build_client
from evoforum.llm.stub import StubServer


@pytest.fixture(params=["stub", "stack", pytest.param("local", marks=pytest.mark.llm)])
def kind(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    """Which backend; the local model's URL is looked up here, outside the event loop, since a
    session fixture cannot be set up from inside a running async fixture."""
    if request.param == "local":
        return "local", str(request.getfixturevalue("llm_url")), str(request.getfixturevalue("llm_model"))
    return str(request.param), "", ""


@pytest.fixture
async def backend(kind: tuple[str, str, str]) -> AsyncIterator[tuple[LLMClient, str]]:
    name, url, model = kind
    if name == "local":
        client: LLMClient = OpenAICompatible(url, model, timeout=300)
        yield client, model
        await client.aclose()
        return
    async with StubServer(seed=2) as server:
        if name == "stub":
            client = OpenAICompatible(server.url, "stub")
        else:
            config = LLMConfig(url=server.url, model="stub", base_delay=0.0)
            client = build_client(config, ledger=Ledger(), rng=random.Random(0))
        yield client, "stub"
        await client.aclose()


async def test_is_an_llm_client(backend: tuple[LLMClient, str]) -> None:
    client, _ = backend
    assert isinstance(client, LLMClient)


async def test_complete_answers_with_usage_and_the_request_hash(backend: tuple[LLMClient, str]) -> None:
    client, model = backend
    request = chat_request(model, "Say hello in three words.", max_tokens=16, temperature=0.0)
    completion = await client.complete(request)
    assert completion.text.strip()
    assert completion.request_hash == request.hash
    assert completion.usage.prompt_tokens > 0
    assert 0 < completion.usage.completion_tokens <= 16
    assert not completion.replayed


async def test_streamed_pieces_make_up_the_answer(backend: tuple[LLMClient, str]) -> None:
    client, model = backend
    pieces: list[str] = []
    completion = await client.complete(
        chat_request(model, "Name two colours.", max_tokens=16, temperature=0.0), on_token=pieces.append
    )
    assert pieces
    assert "".join(pieces) == completion.text
    assert completion.finish_reason in ("stop", "length")


async def test_embed_gives_one_vector_per_text_of_one_size(backend: tuple[LLMClient, str]) -> None:
    client, model = backend
    vectors = await client.embed(["a cat", "a dog", "linear algebra"], model=model)
    assert len(vectors) == 3
    assert len({len(v) for v in vectors}) == 1
    assert len(vectors[0]) > 1
    assert all(isinstance(x, float) for x in vectors[0])
