"""``Database``: a thin typed helper over an asyncpg pool (PostgreSQL, imported lazily).

Rows come back as pydantic models, so a query and the model it fills are checked against each
other on every call::

    class Score(BaseModel):
        genome: str
        value: float

    async with await Database.connect(url) as db:
        await db.execute("insert into scores values ($1, $2)", "ab12", 0.5)
        best = await db.fetch(Score, "select genome, value from scores order by value desc")
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from evoforum.errors import BackendError, ServiceUnavailable

M = TypeVar("M", bound=BaseModel)


def _translate(error: BaseException, sql: str) -> BackendError:
    first_line = " ".join(sql.split())[:200]
    return BackendError(f"PostgreSQL: {type(error).__name__}: {error} (in: {first_line})", cause=repr(error))


def _rows(model: type[M], records: Iterable[Any], sql: str) -> list[M]:
    try:
        return [model.model_validate(dict(record)) for record in records]
    except ValidationError as error:
        raise BackendError(
            f"PostgreSQL: a row of ({' '.join(sql.split())[:200]}) does not fit {model.__name__}: {error}",
            model=model.__name__,
        ) from None


class Database:
    """Execute and fetch on a PostgreSQL pool; rows as pydantic models; errors as ``BackendError``."""

    def __init__(self, pool: Any, *, connection: Any = None) -> None:
        self._pool = pool
        self._connection = connection  # set inside ``transaction()``

    @classmethod
    async def connect(cls, url: str, *, min_size: int = 1, max_size: int = 4) -> Database:
        """A pool of connections to ``url`` (a ``postgresql://`` DSN)."""
        try:
            import asyncpg
        except ImportError as error:  # pragma: no cover - asyncpg is a dependency
            raise BackendError("the PostgreSQL backends need asyncpg: pip install asyncpg") from error
        try:
            pool = await asyncpg.create_pool(dsn=url, min_size=min_size, max_size=max_size)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise ServiceUnavailable(f"cannot connect to PostgreSQL at {url}: {error!r}", url=url) from None
        return cls(pool)

    @property
    def pool(self) -> Any:
        """The asyncpg pool, for what this helper does not cover."""
        return self._pool

    async def execute(self, sql: str, *args: Any) -> str:
        """Run a statement; returns its status (``"INSERT 0 1"``)."""
        return str(await self._call("execute", sql, args))

    async def executemany(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        """Run a statement once per argument tuple."""
        await self._call("executemany", sql, (args,))

    async def fetch(self, model: type[M], sql: str, *args: Any) -> list[M]:
        """Every row of a query, each as ``model``."""
        return _rows(model, await self._call("fetch", sql, args), sql)

    async def fetch_records(self, sql: str, *args: Any) -> list[Any]:
        """Every row as an asyncpg ``Record``, unvalidated (for hot paths)."""
        return list(await self._call("fetch", sql, args))

    async def fetch_one(self, model: type[M], sql: str, *args: Any) -> M | None:
        """The first row as ``model``, or None when there is none."""
        record = await self._call("fetchrow", sql, args)
        return None if record is None else _rows(model, [record], sql)[0]

    async def fetch_value(self, sql: str, *args: Any) -> Any:
        """The first column of the first row (None when there is no row)."""
        return await self._call("fetchval", sql, args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        """A ``Database`` bound to one connection inside a transaction (rolled back on error)."""
        if self._connection is not None:
            async with self._connection.transaction():
                yield self
            return
        import asyncpg

        try:
            async with self._pool.acquire() as connection, connection.transaction():
                yield Database(self._pool, connection=connection)
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise _translate(error, "transaction") from None

    async def close(self) -> None:
        await self._pool.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _call(self, method: str, sql: str, args: Sequence[Any]) -> Any:
        import asyncpg

        try:
            if self._connection is not None:
                return await getattr(self._connection, method)(sql, *args)
            async with self._pool.acquire() as connection:
                return await getattr(connection, method)(sql, *args)
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise _translate(error, sql) from None
