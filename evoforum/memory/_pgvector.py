"""``PgVectorStore``: vectors in a PostgreSQL table with pgvector, HNSW cosine index by default.

The table is ``(id text primary key, embedding vector(dim), payload jsonb)`` with an index
``USING hnsw (embedding vector_cosine_ops)``. Queries order by the cosine distance ``<=>`` so
the index serves them. A filtered query, or one asking for more than the index's candidate list
(``hnsw.ef_search``, 40 by default), runs with ``hnsw.iterative_scan`` and a larger
``ef_search`` so it still finds ``k`` rows when they exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import orjson

from evoforum.errors import BackendError, UsageError
from evoforum.memory._relational import Database
from evoforum.memory._vectors import Filter, Hit, check_query, check_vector, prepare

_TABLE = re.compile(r"[a-z_][a-z0-9_]{0,50}")
_EF_SEARCH = 40

Index = Literal["hnsw", "ivfflat", "none"]


def vector_literal(vector: np.ndarray[Any, Any]) -> str:
    """pgvector's text form of a vector: ``[1,2.5,3]``."""
    return "[" + ",".join(map(repr, vector.tolist())) + "]"


class PgVectorStore:
    """A ``VectorStore`` in the PostgreSQL table ``table`` (created with its index on ``open``)."""

    def __init__(self, db: Database, table: str, dim: int, *, ef_search: int = _EF_SEARCH) -> None:
        if not _TABLE.fullmatch(table):
            raise UsageError(f"table name {table!r} is invalid: lowercase letters, digits and '_'")
        if not 1 <= ef_search <= 1000:
            raise UsageError(f"ef_search must be within 1..1000, not {ef_search}")
        self.db, self.table, self.dim, self.ef_search = db, table, dim, ef_search

    @classmethod
    async def open(
        cls, db: Database, table: str, dim: int, *, index: Index = "hnsw", ef_search: int = _EF_SEARCH
    ) -> PgVectorStore:
        """The store on ``table``; creates the extension, the table and its index when missing.

        ``ef_search`` is the HNSW candidate list of a query: larger finds more of the true
        nearest neighbours and costs more time.
        """
        store = cls(db, table, dim, ef_search=ef_search)
        await store._create()
        await store.create_index(index)
        return store

    async def _create(self) -> None:
        await self.db.execute("CREATE EXTENSION IF NOT EXISTS vector")
        await self.db.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            f"id text PRIMARY KEY, embedding vector({self.dim}) NOT NULL, "
            "payload jsonb NOT NULL DEFAULT '{}'::jsonb)"
        )
        existing = await self.db.fetch_value(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'embedding'",
            self.table,
        )
        if existing != self.dim:
            raise BackendError(
                f"table {self.table!r} holds vectors of {existing} dimensions, not {self.dim}",
                table=self.table,
            )

    async def create_index(self, index: Index = "hnsw") -> None:
        """Create the cosine index when missing (bulk loads: open with ``index="none"``, load, then this)."""
        if index != "none":
            await self.db.execute(
                f"CREATE INDEX IF NOT EXISTS {self.table}_embedding_{index} "
                f"ON {self.table} USING {index} (embedding vector_cosine_ops)"
            )

    async def upsert(
        self,
        ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
        payloads: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        rows = prepare(ids, vectors, payloads, self.dim)
        if not rows:
            return
        await self.db.execute(
            f"INSERT INTO {self.table} (id, embedding, payload) "
            "SELECT i, e::vector, p::jsonb FROM unnest($1::text[], $2::text[], $3::text[]) AS u(i, e, p) "
            "ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding, payload = EXCLUDED.payload",
            [id_ for id_, _, _ in rows],
            [vector_literal(vector) for _, vector, _ in rows],
            [orjson.dumps(payload).decode() for _, _, payload in rows],
        )

    async def query(self, vector: Sequence[float], k: int = 10, filter: Filter | None = None) -> list[Hit]:
        check_query(k, filter)
        literal = vector_literal(check_vector(vector, self.dim))
        where = "WHERE payload @> $3::jsonb " if filter else ""
        sql = (
            f"SELECT id, (embedding <=> $1::vector) AS distance, payload::text AS payload "
            f"FROM {self.table} {where}ORDER BY embedding <=> $1::vector LIMIT $2"
        )
        args: list[Any] = [literal, k] + ([orjson.dumps(dict(filter)).decode()] if filter else [])
        if not filter and k <= self.ef_search == _EF_SEARCH:
            records = await self.db.fetch_records(sql, *args)  # the server's defaults serve
        else:
            ef_search = max(self.ef_search, min(k, 1000))
            async with self.db.transaction() as tx:
                await tx.execute(
                    f"SET LOCAL hnsw.ef_search = {ef_search}; SET LOCAL hnsw.iterative_scan = relaxed_order"
                )
                records = await tx.fetch_records(sql, *args)
        hits = [
            Hit(
                id=record["id"],
                score=1.0 - float(record["distance"]),
                payload=orjson.loads(record["payload"]),
            )
            for record in records
        ]
        hits.sort(key=lambda hit: -hit.score)  # relaxed order may be slightly out of order
        return hits

    async def delete(self, ids: Sequence[str]) -> None:
        await self.db.execute(f"DELETE FROM {self.table} WHERE id = ANY($1::text[])", list(ids))

    async def drop(self) -> None:
        """Remove the table and its index."""
        await self.db.execute(f"DROP TABLE IF EXISTS {self.table}")
