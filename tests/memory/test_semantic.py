"""``SemanticMemory`` and ``OpenAIEmbedder``: texts stored and found by meaning."""

from __future__ import annotations

import hashlib
import re
import socket
import uuid
from collections.abc import Sequence

import numpy as np
import pytest

from evoforum.errors import LLMUnavailable, UsageError
from evoforum.llm.stub import StubServer
from evoforum.memory import Database, MemoryVectorStore, OpenAIEmbedder, PgVectorStore, SemanticMemory
from evoforum.memory._semantic import text_id


class WordEmbedder:
    """A deterministic bag-of-words embedder: texts sharing words point the same way."""

    dim = 64

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            vector = np.zeros(self.dim)
            for word in re.findall(r"[a-z]+", text.lower()):
                vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % self.dim] += 1.0
            vectors.append(vector.tolist())
        return vectors


async def test_add_and_search_by_text() -> None:
    memory = SemanticMemory(WordEmbedder(), MemoryVectorStore(WordEmbedder.dim))
    ids = await memory.add(
        ["the cat sat on the mat", "stock markets fell sharply", "a dog chased the cat"],
        payloads=[{"source": "pets"}, {"source": "news"}, {"source": "pets"}],
    )
    assert ids == [text_id("the cat sat on the mat"), text_id("stock markets fell sharply"),
                   text_id("a dog chased the cat")]  # fmt: skip
    hits = await memory.search("markets and stock prices", k=1)
    assert hits[0].payload == {"source": "news", "text": "stock markets fell sharply"}
    pets = await memory.search("stock markets", k=3, filter={"source": "pets"})
    assert {hit.payload["text"] for hit in pets} == {"the cat sat on the mat", "a dog chased the cat"}
    assert await memory.add(["the cat sat on the mat"]) == [ids[0]]  # same text, same id: replaced
    assert len(await memory.search("cat", k=10)) == 3
    await memory.delete([ids[1]])
    assert all(hit.id != ids[1] for hit in await memory.search("stock markets", k=10))


async def test_add_checks_its_arguments() -> None:
    memory = SemanticMemory(WordEmbedder(), MemoryVectorStore(WordEmbedder.dim))
    assert await memory.add([]) == []
    with pytest.raises(UsageError, match="not one string"):
        await memory.add("one text")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="2 texts, 1 ids"):
        await memory.add(["a", "b"], ids=["x"])


async def test_openai_embedder_against_an_openai_compatible_server() -> None:
    async with StubServer(embedding_dim=16) as server:
        embedder = OpenAIEmbedder(server.url, "stub", batch=2)
        try:
            texts = ["alpha", "beta", "gamma", "alpha", "delta"]
            vectors = await embedder.embed(texts)  # three requests of at most two texts
            assert len(vectors) == 5
            assert all(len(v) == 16 for v in vectors)
            assert vectors[0] == vectors[3]
            assert vectors[0] != vectors[1]
            assert server.stats.embeddings >= 3
        finally:
            await embedder.close()


async def test_openai_embedder_translates_a_dead_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    embedder = OpenAIEmbedder(f"http://127.0.0.1:{port}/v1", "none", timeout=10)
    try:
        with pytest.raises(LLMUnavailable, match="embeddings failed"):
            await embedder.embed(["x"])
    finally:
        await embedder.close()


@pytest.mark.llm
@pytest.mark.services
async def test_real_embeddings_in_pgvector_found_by_text(
    llm_url: str, llm_model: str, postgres_url: str
) -> None:
    embedder = OpenAIEmbedder(llm_url, llm_model)
    try:
        [probe] = await embedder.embed(["probe"])
        async with await Database.connect(postgres_url) as db:
            store = await PgVectorStore.open(db, f"semantic_{uuid.uuid4().hex[:10]}", len(probe))
            try:
                memory = SemanticMemory(embedder, store)
                await memory.add(
                    [
                        "def add(a, b): return a + b  # sum two numbers in Python",
                        "The Eiffel Tower is a landmark in Paris, France.",
                        "Bananas are yellow fruit rich in potassium.",
                    ]
                )
                hits = await memory.search("Which city has the Eiffel Tower?", k=3)
                assert hits[0].payload["text"].startswith("The Eiffel Tower")
                assert hits[0].score > hits[-1].score
            finally:
                await store.drop()
    finally:
        await embedder.close()
