"""``PostgresStore``: messages and refs in PostgreSQL through asyncpg (imported lazily).

Tables (in one schema, ``evoforum`` unless told otherwise)::

    messages(hash text PRIMARY KEY, parent text, payload bytea)   -- index on parent
    refs(namespace text, key text, hashes text[], PRIMARY KEY (namespace, key))

``payload`` holds the canonical JSON bytes the hash was taken over, so every read re-hashes the
row and a row changed behind the store's back is reported (``IntegrityError``), never served.
``branch`` walks the ``parent`` column in one recursive query, guarded against a changed parent
that loops (``IntegrityError``) and against branches deeper than ``max_depth`` (``ForumError``).
Parents are checked inside the writing transaction (messages are never deleted, so a parent seen
there stays); a foreign key would only repeat that check, row by row, at a third of the speed.
Batches go in one transaction: the rows not stored yet are COPYed in (small batches use one
INSERT … ON CONFLICT DO NOTHING), so a message stored twice is stored once and a failed batch
leaves nothing behind.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from evoforum.errors import BackendError, IntegrityError
from evoforum.forum.message import Message
from evoforum.forum.stores._common import (
    MAX_BRANCH_DEPTH,
    check_prefix,
    cyclic,
    one_match,
    outside_parents,
    parents_first,
    too_deep,
    unknown,
    verified,
)
from evoforum.hashing import Hash

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
COPY_THRESHOLD = 64
"""Batches at least this large go through COPY; smaller ones through executemany."""


class PostgresStore:
    """The forum store in PostgreSQL. Build it with ``await PostgresStore.connect(url)``."""

    def __init__(self, pool: Any, schema: str = "evoforum", *, max_depth: int = MAX_BRANCH_DEPTH) -> None:
        if not _SCHEMA_NAME.fullmatch(schema):
            raise BackendError(f"schema name {schema!r} must match {_SCHEMA_NAME.pattern}")
        self._pool = pool
        self.schema = schema
        self.max_depth = max_depth
        self._m = f'"{schema}".messages'
        self._r = f'"{schema}".refs'

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        schema: str = "evoforum",
        max_size: int = 4,
        max_depth: int = MAX_BRANCH_DEPTH,
        synchronous_commit: bool = False,
    ) -> PostgresStore:
        """Connect a pool to ``url`` and create the schema and tables when missing.

        ``branch`` refuses a branch deeper than ``max_depth`` messages (``ForumError``) and one
        whose stored parents loop (``IntegrityError``).

        The pool's sessions commit asynchronously unless ``synchronous_commit``: a commit returns
        before its WAL is flushed to disk. Every agent call and transcript is a commit, and the
        flush took about three quarters of the runtime's own time per candidate evaluation
        (``benchmarks/runtime_overhead.py``: 27 against 9 ms). What this gives up: if the database
        server or the machine crashes, the last fraction of a second of messages may be missing.
        They are never half-written, and a process of evoforum that is killed loses nothing. The
        messages are content-addressed, and the run's own state (checkpoint, result journal) is
        written durably on its own.
        """
        try:
            import asyncpg
        except ImportError as error:  # pragma: no cover - asyncpg is a dependency
            raise BackendError("the PostgreSQL store needs asyncpg: pip install asyncpg") from error
        store = cls(None, schema, max_depth=max_depth)
        try:
            settings = {} if synchronous_commit else {"synchronous_commit": "off"}
            store._pool = await asyncpg.create_pool(
                url, min_size=1, max_size=max_size, server_settings=settings
            )
        except (OSError, asyncpg.PostgresError) as error:
            raise BackendError(f"cannot connect to PostgreSQL: {error}", cause=repr(error)) from None
        await store.create_tables()
        return store

    async def create_tables(self) -> None:
        async with self._connection() as conn:
            await conn.execute(
                f'CREATE SCHEMA IF NOT EXISTS "{self.schema}";'
                f' CREATE TABLE IF NOT EXISTS {self._m} (hash text COLLATE "C" PRIMARY KEY,'
                f' parent text COLLATE "C", payload bytea NOT NULL);'
                f" CREATE INDEX IF NOT EXISTS messages_parent ON {self._m} (parent);"
                f" CREATE TABLE IF NOT EXISTS {self._r} (namespace text, key text,"
                f" hashes text[] NOT NULL, PRIMARY KEY (namespace, key));"
            )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    async def drop(self) -> None:
        """Drop this store's schema and everything in it."""
        async with self._connection() as conn:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    # -- messages -------------------------------------------------------------------------------

    async def put_many(self, messages: Sequence[Message]) -> None:
        batch = parents_first(messages)
        if not batch:
            return
        rows: list[tuple[str, str | None, bytes]] = [(m.hash, m.parent, m.canonical()) for m in batch]
        import asyncpg

        try:
            await self._write(rows, outside_parents(batch), merge=False)
        except asyncpg.UniqueViolationError:  # a concurrent writer stored some of them first
            await self._write(rows, outside_parents(batch), merge=True)

    async def _write(
        self, rows: list[tuple[str, str | None, bytes]], parents: set[str], *, merge: bool
    ) -> None:
        """One transaction: check the parents, then add the rows not stored yet.

        Large batches COPY the new rows straight into the table; ``merge`` (after a concurrent
        writer won a race) COPYs into a temporary table and merges with ON CONFLICT DO NOTHING.
        """
        async with self._connection() as conn, conn.transaction():
            lookup = parents | {row[0] for row in rows} if len(rows) >= COPY_THRESHOLD else parents
            stored: set[str] = set()
            if lookup:
                found = await conn.fetch(f"SELECT hash FROM {self._m} WHERE hash = ANY($1::text[])", lookup)
                stored = {r["hash"] for r in found}
            missing = parents - stored
            if missing:
                raise unknown(min(missing), "parent message")
            if len(rows) < COPY_THRESHOLD:
                await conn.executemany(
                    f"INSERT INTO {self._m} (hash, parent, payload) VALUES ($1, $2, $3)"
                    " ON CONFLICT (hash) DO NOTHING",
                    rows,
                )
                return
            fresh = [row for row in rows if row[0] not in stored]
            if not fresh:
                return
            if not merge:
                await conn.copy_records_to_table(
                    "messages", schema_name=self.schema, columns=["hash", "parent", "payload"], records=fresh
                )
                return
            await conn.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS evoforum_incoming"
                " (hash text, parent text, payload bytea) ON COMMIT DELETE ROWS"
            )
            await conn.copy_records_to_table("evoforum_incoming", records=fresh)
            await conn.execute(
                f"INSERT INTO {self._m} (hash, parent, payload) SELECT hash, parent, payload"
                " FROM evoforum_incoming ON CONFLICT (hash) DO NOTHING"
            )

    async def get(self, hash_: str) -> Message:
        async with self._connection() as conn:
            data = await conn.fetchval(f"SELECT payload FROM {self._m} WHERE hash = $1", hash_)
        if data is None:
            raise unknown(hash_)
        return verified(hash_, data)

    async def branch(self, hash_: str) -> list[Message]:
        # The walk follows the parent column, which a changed row could make loop or run on: it
        # stops at a repeated hash (CYCLE) and one row past max_depth, and says which it was.
        async with self._connection() as conn:
            rows = await conn.fetch(
                f"WITH RECURSIVE chain(hash, parent, payload, depth) AS ("
                f" SELECT hash, parent, payload, 1 FROM {self._m} WHERE hash = $1"
                f" UNION ALL SELECT m.hash, m.parent, m.payload, c.depth + 1"
                f" FROM {self._m} m JOIN chain c ON m.hash = c.parent WHERE c.depth <= $2)"
                f" CYCLE hash SET looped USING path"
                f" SELECT hash, payload, looped FROM chain ORDER BY depth DESC",
                hash_,
                self.max_depth,
            )
        if not rows:
            raise unknown(hash_)
        if any(r["looped"] for r in rows):
            raise cyclic(hash_)
        if len(rows) > self.max_depth:
            raise too_deep(hash_, self.max_depth)
        chain = [verified(r["hash"], r["payload"]) for r in rows]
        expected: str | None = None
        for message in chain:  # the parent column must agree with the hashed payloads
            if message.parent != expected:
                raise _mismatch(message.hash)
            expected = message.hash
        return chain

    async def children(self, hash_: str) -> list[Message]:
        async with self._connection() as conn:
            rows = await conn.fetch(
                f"SELECT hash, payload FROM {self._m} WHERE parent = $1 ORDER BY hash", hash_
            )
        found = [verified(r["hash"], r["payload"]) for r in rows]
        for message in found:
            if message.parent != hash_:
                raise _mismatch(message.hash)
        return found

    async def resolve(self, prefix: str) -> Hash:
        text = check_prefix(prefix)
        async with self._connection() as conn:
            rows = await conn.fetch(
                f"SELECT hash FROM {self._m} WHERE hash >= $1 AND hash < $1 || 'g' ORDER BY hash LIMIT 6",
                text,
            )
        return one_match(prefix, [r["hash"] for r in rows])

    # -- refs -----------------------------------------------------------------------------------

    async def put_ref(self, namespace: str, key: str, hashes: Sequence[str]) -> None:
        async with self._connection() as conn:
            await conn.execute(
                f"INSERT INTO {self._r} (namespace, key, hashes) VALUES ($1, $2, $3)"
                " ON CONFLICT (namespace, key) DO UPDATE SET hashes = EXCLUDED.hashes",
                namespace,
                key,
                list(hashes),
            )

    async def get_ref(self, namespace: str, key: str) -> list[Hash] | None:
        async with self._connection() as conn:
            found = await conn.fetchval(
                f"SELECT hashes FROM {self._r} WHERE namespace = $1 AND key = $2", namespace, key
            )
        return None if found is None else [Hash(h) for h in found]

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        """A pooled connection; asyncpg and socket errors become ``BackendError``."""
        import asyncpg

        try:
            async with self._pool.acquire() as conn:
                yield conn
        except asyncpg.UniqueViolationError:
            raise  # put_many retries the batch as a merge
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise BackendError(f"PostgreSQL store failed: {error}", cause=repr(error)) from None


def _mismatch(hash_: str) -> IntegrityError:
    return IntegrityError(
        f"stored message {hash_[:12]}…: its parent column disagrees with its hashed content", hash=hash_
    )
