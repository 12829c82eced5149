"""Where a run keeps its edit memory: a pgvector table of its own when the run has PostgreSQL,
else numpy arrays in the process.

The table is ``edit_memory_`` and a hash of the host and the output folder's absolute path, so
two runs never share one and a resumed run finds its own (an earlier run in the same folder
leaves rows that the memory deletes before its first use). The table has no approximate index:
a run remembers at most some thousands of edits, an exact scan over them takes milliseconds, and
exact answers do not depend on how an HNSW graph happened to be built, so a resumed run and an
uninterrupted one see the same examples. Given a ``Database`` (a pool its owner closes), the
memory uses it; without one, each use opens a connection and closes it again (some milliseconds
more per use, next to seconds per model call), so the memory holds nothing open and needs no
closing.

Embeddings are not checkpointed: the table keeps the vectors of the edits made before a kill,
and the edits missing from the store on resume (all of them with the in-process store) are
embedded again, which costs a local model little and keeps checkpoints small.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from evoforum.errors import ServiceUnavailable
from evoforum.evolve.operators import EditMemory
from evoforum.hashing import digest
from evoforum.memory import Database, Embedder, MemoryVectorStore, PgVectorStore, SemanticMemory

PREFIX = "edit_memory_"


@dataclass(frozen=True)
class EditStore:
    """Where an edit memory lives: the pgvector ``table`` at ``postgres_url`` (through ``db``
    when given: a pool that its owner closes), or in the process when neither is given."""

    postgres_url: str | None = None
    table: str = "edit_memory"
    db: Database | None = None

    @classmethod
    def of_run(cls, out: Path, postgres_url: str | None, db: Database | None = None) -> EditStore:
        """The store of the run in folder ``out``, on PostgreSQL when ``postgres_url`` or ``db`` is given."""
        return cls(postgres_url, run_table(out), db)


def run_table(out: Path) -> str:
    """The table of the run in folder ``out`` on this host."""
    identity = {"host": socket.gethostname(), "out": str(Path(out).resolve())}
    return PREFIX + digest(identity, domain="edit-memory-table")[:20]


async def open_edit_memory(embedder: Embedder, where: EditStore | None = None) -> EditMemory:
    """An ``EditMemory`` embedding with ``embedder``, kept where ``where`` says."""
    [probe] = await embedder.embed(["an edit of a workflow"])
    if where is None or (where.postgres_url is None and where.db is None):
        return EditMemory(SemanticMemory(embedder, MemoryVectorStore(len(probe))))
    db = where.db or Database(_Connections(str(where.postgres_url)))
    existing = await db.fetch_value(
        "SELECT atttypmod FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'embedding'",
        where.table,
    )
    if existing is not None and existing != len(probe):  # another model's vectors: start over
        await PgVectorStore(db, where.table, len(probe)).drop()
    store = await PgVectorStore.open(db, where.table, len(probe), index="none")
    return EditMemory(SemanticMemory(embedder, store), stored=partial(stored_ids, store))


async def stored_ids(store: PgVectorStore) -> list[str]:
    """Every id in ``store``'s table."""
    records = await store.db.fetch_records(f"SELECT id FROM {store.table}")
    return sorted(str(record["id"]) for record in records)


class _Connections:
    """What ``Database`` needs of a pool, opening a connection per use and closing it after."""

    def __init__(self, url: str) -> None:
        self.url = url

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        import asyncpg

        try:
            connection = await asyncpg.connect(dsn=self.url)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise ServiceUnavailable(f"cannot connect to PostgreSQL for the edit memory: {error!r}") from None
        try:
            yield connection
        finally:
            await connection.close()

    async def close(self) -> None:
        """Nothing stays open between uses."""
