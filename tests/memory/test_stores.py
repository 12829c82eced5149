"""What the vector backends do beyond the contract: their own setup checks and failures."""

from __future__ import annotations

import socket
import uuid

import pytest

from evoforum.errors import BackendError, ServiceUnavailable, UsageError
from evoforum.memory import Database, PgVectorStore, WeaviateVectorStore


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.services
async def test_pgvector_creates_an_hnsw_cosine_index_and_checks_dimensions(postgres_url: str) -> None:
    table = f"vectors_{uuid.uuid4().hex[:10]}"
    async with await Database.connect(postgres_url) as db:
        store = await PgVectorStore.open(db, table, 4)
        try:
            indexes = await db.fetch_value(
                "SELECT string_agg(indexdef, ' | ') FROM pg_indexes WHERE tablename = $1", table
            )
            assert "USING hnsw (embedding vector_cosine_ops)" in indexes
            await store.upsert(["a"], [[1, 0, 0, 0]])
            again = await PgVectorStore.open(db, table, 4)  # opening an existing table is fine
            assert [hit.id for hit in await again.query([1, 0, 0, 0], k=1)] == ["a"]
            with pytest.raises(BackendError, match="holds vectors of 4 dimensions, not 8"):
                await PgVectorStore.open(db, table, 8)
        finally:
            await store.drop()
    with pytest.raises(UsageError, match="table name"):
        PgVectorStore(db, "Robert'); DROP TABLE students;--", 4)


async def test_weaviate_that_does_not_answer_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceUnavailable, match="cannot connect to Weaviate"):
        await WeaviateVectorStore.connect(url, "Nothing", 4, grpc_port=free_port())
