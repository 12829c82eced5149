"""``Database``: typed rows from PostgreSQL, errors translated at the seam."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import BaseModel, ConfigDict

from evoforum.errors import BackendError, ServiceUnavailable
from evoforum.memory import Database

pytestmark = pytest.mark.services


class Score(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    genome: str
    value: float


class WrongShape(BaseModel):
    genome: int


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[Database]:
    async with await Database.connect(postgres_url) as database:
        yield database


@pytest.fixture
async def table(db: Database) -> AsyncIterator[str]:
    name = f"scores_{uuid.uuid4().hex[:10]}"
    await db.execute(f"CREATE TABLE {name} (genome text PRIMARY KEY, value double precision NOT NULL)")
    try:
        yield name
    finally:
        await db.execute(f"DROP TABLE {name}")


async def test_rows_come_back_as_models(db: Database, table: str) -> None:
    status = await db.execute(f"INSERT INTO {table} VALUES ($1, $2), ($3, $4)", "a", 0.5, "b", 0.9)
    assert status == "INSERT 0 2"
    await db.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [("c", 0.1), ("d", 0.7)])
    best = await db.fetch(Score, f"SELECT genome, value FROM {table} ORDER BY value DESC")
    assert best == [Score(genome="b", value=0.9), Score(genome="d", value=0.7), Score(genome="a", value=0.5),
                    Score(genome="c", value=0.1)]  # fmt: skip
    assert await db.fetch_one(Score, f"SELECT * FROM {table} WHERE genome = $1", "d") == Score(
        genome="d", value=0.7
    )
    assert await db.fetch_one(Score, f"SELECT * FROM {table} WHERE genome = $1", "zz") is None
    assert await db.fetch_value(f"SELECT count(*) FROM {table}") == 4


async def test_a_row_that_does_not_fit_its_model_is_an_error(db: Database, table: str) -> None:
    await db.execute(f"INSERT INTO {table} VALUES ('abc', 1.0)")
    with pytest.raises(BackendError, match="does not fit WrongShape"):
        await db.fetch(WrongShape, f"SELECT genome FROM {table}")


async def test_sql_errors_are_backend_errors(db: Database, table: str) -> None:
    with pytest.raises(BackendError, match="UndefinedTableError"):
        await db.fetch(Score, "SELECT * FROM no_such_table_here")
    await db.execute(f"INSERT INTO {table} VALUES ('a', 1.0)")
    with pytest.raises(BackendError, match="UniqueViolation"):
        await db.execute(f"INSERT INTO {table} VALUES ('a', 2.0)")


async def test_transactions_roll_back_on_error(db: Database, table: str) -> None:
    async def insert_twice() -> None:
        async with db.transaction() as tx:
            await tx.execute(f"INSERT INTO {table} VALUES ('kept?', 1.0)")
            await tx.execute(f"INSERT INTO {table} VALUES ('kept?', 2.0)")

    with pytest.raises(BackendError, match="UniqueViolation"):
        await insert_twice()
    assert await db.fetch_value(f"SELECT count(*) FROM {table}") == 0
    async with db.transaction() as tx:
        await tx.execute(f"INSERT INTO {table} VALUES ('kept', 1.0)")
    assert await db.fetch_value(f"SELECT count(*) FROM {table}") == 1


async def test_connecting_to_nothing_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ServiceUnavailable, match="cannot connect to PostgreSQL"):
        await Database.connect(f"postgresql://nobody@127.0.0.1:{port}/none")
