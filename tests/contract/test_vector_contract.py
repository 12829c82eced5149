"""The ``VectorStore`` contract: numpy, pgvector and (with ``WEAVIATE_URL``) Weaviate pass the same tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from evoforum.errors import UsageError
from evoforum.memory import Database, MemoryVectorStore, PgVectorStore, VectorStore, WeaviateVectorStore

DIM = 8


@pytest.fixture(
    params=[
        "memory",
        pytest.param("pgvector", marks=pytest.mark.services),
        pytest.param("weaviate", marks=pytest.mark.services),
    ]
)
def vector_backend(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    if request.param == "memory":
        return ("memory", None)
    if request.param == "pgvector":
        return ("pgvector", str(request.getfixturevalue("postgres_url")))
    url = os.environ.get("WEAVIATE_URL")
    if not url:
        pytest.skip("WEAVIATE_URL is not set: no Weaviate server to test against")
    return ("weaviate", url)


@pytest.fixture
async def store(vector_backend: tuple[str, str | None]) -> AsyncIterator[Any]:
    kind, url = vector_backend
    if kind == "memory":
        yield MemoryVectorStore(DIM)
        return
    assert url is not None
    suffix = uuid.uuid4().hex[:10]
    if kind == "pgvector":
        async with await Database.connect(url) as db:
            pg = await PgVectorStore.open(db, f"vectors_{suffix}", DIM)
            try:
                yield pg
            finally:
                await pg.drop()
        return
    weaviate = await WeaviateVectorStore.connect(url, f"Vectors_{suffix}", DIM)
    try:
        yield weaviate
    finally:
        await weaviate.drop()
        await weaviate.close()


def unit(index: int, dim: int = DIM) -> list[float]:
    vector = [0.0] * dim
    vector[index] = 1.0
    return vector


def cosine(a: list[float], b: list[float]) -> float:
    x, y = np.asarray(a), np.asarray(b)
    return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))


async def test_nearest_first_with_cosine_scores(store: VectorStore) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(20, DIM)).tolist()
    ids = [f"v{i}" for i in range(20)]
    await store.upsert(ids, vectors, [{"i": i} for i in range(20)])
    query = rng.normal(size=DIM).tolist()
    hits = await store.query(query, k=5)
    expected = sorted(range(20), key=lambda i: -cosine(query, vectors[i]))[:5]
    assert [hit.id for hit in hits] == [f"v{i}" for i in expected]
    for hit, i in zip(hits, expected, strict=True):
        assert hit.score == pytest.approx(cosine(query, vectors[i]), abs=1e-5)
        assert hit.payload == {"i": i}
    same = await store.query([2 * x for x in vectors[3]], k=1)  # scale does not matter
    assert same[0].id == "v3"
    assert same[0].score == pytest.approx(1.0, abs=1e-5)


async def test_upsert_replaces_and_payloads_round_trip(store: VectorStore) -> None:
    payload = {"text": "héllo", "tags": ["a", "b"], "nested": {"n": 1.5, "none": None}, "ok": True}
    await store.upsert(["a", "b"], [unit(0), unit(1)], [payload, {}])
    await store.upsert(["a"], [unit(2)], [{"text": "moved"}])
    hits = await store.query(unit(2), k=1)
    assert hits[0].id == "a"
    assert hits[0].payload == {"text": "moved"}
    assert (await store.query(unit(1), k=1))[0].payload == {}
    await store.upsert(["c"], [unit(3)], [payload])
    assert (await store.query(unit(3), k=1))[0].payload == payload
    assert len(await store.query(unit(0), k=10)) == 3  # no duplicates after a replace


async def test_filters_match_payload_values(store: VectorStore) -> None:
    payloads = [
        {"kind": "note", "n": 1, "flag": True},
        {"kind": "note", "n": 2, "flag": False},
        {"kind": "code", "n": 1, "flag": True},
        {"kind": "note book", "n": 1},
    ]
    await store.upsert(["a", "b", "c", "d"], [unit(0), unit(1), unit(2), unit(3)], payloads)
    assert sorted(h.id for h in await store.query(unit(0), k=10, filter={"kind": "note"})) == ["a", "b"]
    assert [h.id for h in await store.query(unit(0), k=10, filter={"kind": "note", "n": 2})] == ["b"]
    assert sorted(h.id for h in await store.query(unit(0), k=10, filter={"flag": True})) == ["a", "c"]
    assert await store.query(unit(0), k=10, filter={"kind": "poem"}) == []
    assert await store.query(unit(0), k=10, filter={"missing": 1}) == []


async def test_more_than_the_candidate_list_and_rare_filters(store: VectorStore) -> None:
    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(120, DIM)).tolist()
    payloads = [{"rare": i % 30 == 0} for i in range(120)]
    await store.upsert([f"r{i}" for i in range(120)], vectors, payloads)
    assert len(await store.query(vectors[0], k=60)) == 60
    rare = await store.query(vectors[1], k=10, filter={"rare": True})
    assert sorted(h.id for h in rare) == ["r0", "r30", "r60", "r90"]
    assert [h.score for h in rare] == sorted((h.score for h in rare), reverse=True)


async def test_delete(store: VectorStore) -> None:
    await store.upsert(["a", "b"], [unit(0), unit(1)])
    await store.delete(["a", "never-there"])
    hits = await store.query(unit(0), k=10)
    assert [h.id for h in hits] == ["b"]
    await store.delete([])
    assert await store.query(unit(5), k=3) != []


async def test_empty_store_answers_nothing(store: VectorStore) -> None:
    assert await store.query(unit(0), k=3) == []


@pytest.mark.parametrize(
    ("ids", "vectors", "match"),
    [
        (["a"], [[1.0] * (DIM + 1)], "vector of 8"),
        (["a"], [[0.0] * DIM], "zero vector"),
        (["a"], [[float("nan")] * DIM], "NaN"),
        (["a", "b"], [unit(0)], "2 ids, 1 vectors"),
        ([""], [unit(0)], "non-empty"),
    ],
)
async def test_bad_input_is_refused(
    store: VectorStore, ids: list[str], vectors: list[list[float]], match: str
) -> None:
    with pytest.raises(UsageError, match=match):
        await store.upsert(ids, vectors)


async def test_bad_queries_are_refused(store: VectorStore) -> None:
    with pytest.raises(UsageError, match="k must be"):
        await store.query(unit(0), k=0)
    with pytest.raises(UsageError, match="vector of 8"):
        await store.query([1.0, 2.0], k=1)
    with pytest.raises(UsageError, match="only str"):
        await store.query(unit(0), k=1, filter={"tags": ["a"]})  # type: ignore[dict-item]
