"""``Memory``: what a workflow remembers, in one namespace: a key-value bucket and vector collections.

A run hands its candidates one ``Memory`` (``Depends(providers.memory)``): ``kv`` is a
``KeyValue`` bucket, ``await memory.vectors(name, dim)`` a ``VectorStore`` collection, opened on
first use and the same object afterwards. A collection's vectors have one dimension: asking for
it with another is a ``UsageError``.

``Memory.in_process()`` keeps everything in this process (unit tests, runs without services), or
its vectors only, beside a bucket it is given;
``Memory.on_services(kv, db, namespace)`` keeps the bucket where ``kv`` does (a NATS KV bucket in
a run) and each collection in the pgvector table ``<namespace>_<name>`` reached through ``db``.
The namespace is the run's (``evoforum.run.resources.run_namespace``), so two runs never share a
table and a resumed run finds its own. ``aclose()`` closes the bucket and the database it was given.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from evoforum.errors import UsageError
from evoforum.memory._kv import KeyValue, MemoryKV
from evoforum.memory._vectors import MemoryVectorStore, VectorStore

if TYPE_CHECKING:
    from evoforum.memory._relational import Database

NAMESPACE = re.compile(r"[a-z][a-z0-9_]{0,23}")
"""A namespace: it prefixes table names, so lowercase letters, digits and '_' (at most 24)."""
COLLECTION = re.compile(r"[a-z][a-z0-9_]{0,25}")
"""A collection name: lowercase letters, digits and '_' (at most 26)."""

Opener = Callable[[str, int], Awaitable[VectorStore]]
"""``open(table name, dim)``: the vector store of one collection."""


class Memory:
    """A key-value bucket and named vector collections of one ``namespace``."""

    def __init__(
        self,
        kv: KeyValue,
        open_vectors: Opener,
        namespace: str,
        *,
        closers: tuple[Callable[[], Awaitable[Any]], ...] = (),
    ) -> None:
        if not NAMESPACE.fullmatch(namespace):
            raise UsageError(f"memory namespace {namespace!r} is invalid: {NAMESPACE.pattern}")
        self.kv = kv
        self.namespace = namespace
        self._open = open_vectors
        self._closers = closers
        self._collections: dict[str, tuple[int, VectorStore]] = {}
        self._opening = asyncio.Lock()

    @classmethod
    def in_process(cls, namespace: str = "memory", *, kv: Any = None) -> Memory:
        """``MemoryVectorStore`` collections in this process, and the bucket ``kv`` (closed with
        the memory), else a ``MemoryKV``."""

        async def open_vectors(table: str, dim: int) -> VectorStore:
            return MemoryVectorStore(dim)

        if kv is None:
            return cls(MemoryKV(), open_vectors, namespace)
        return cls(kv, open_vectors, namespace, closers=(kv.close,))

    @classmethod
    def on_services(cls, kv: Any, db: Database, namespace: str) -> Memory:
        """The bucket ``kv`` (closed with the memory) and pgvector collections through ``db``
        (closed with it too)."""
        from evoforum.memory._pgvector import PgVectorStore

        async def open_vectors(table: str, dim: int) -> VectorStore:
            return await PgVectorStore.open(db, table, dim)

        return cls(kv, open_vectors, namespace, closers=(kv.close, db.close))

    def table(self, name: str) -> str:
        """The table (or collection) name of collection ``name`` in this namespace."""
        if not COLLECTION.fullmatch(name):
            raise UsageError(f"vector collection {name!r} is invalid: {COLLECTION.pattern}")
        return f"{self.namespace}_{name}"

    async def vectors(self, name: str, dim: int) -> VectorStore:
        """The collection ``name`` of ``dim``-dimensional vectors (opened, or created, on first use)."""
        table = self.table(name)
        async with self._opening:  # concurrent candidates create a table once
            found = self._collections.get(name)
            if found is None:
                found = self._collections[name] = (dim, await self._open(table, dim))
        if found[0] != dim:
            raise UsageError(f"vector collection {name!r} holds {found[0]}-dimensional vectors, not {dim}")
        return found[1]

    async def aclose(self) -> None:
        """Close what the memory was given to close (its bucket, its database)."""
        for close in self._closers:
            await close()

    def __repr__(self) -> str:
        return f"Memory({self.namespace!r}, kv={type(self.kv).__name__}, collections={sorted(self._collections)})"
