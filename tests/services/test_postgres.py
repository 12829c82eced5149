"""The embedded PostgreSQL: pgvector works and data survives a restart of the server."""

from __future__ import annotations

from pathlib import Path

import pytest

from evoforum.services import local_services

pytestmark = pytest.mark.services


async def test_vector_nearest_neighbour_query(postgres_url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(postgres_url)
    try:
        await connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
        await connection.execute("CREATE TABLE points (name text PRIMARY KEY, v vector(3))")
        await connection.executemany(
            "INSERT INTO points VALUES ($1, $2::vector)",
            [("origin", "[0,0,0]"), ("near", "[1,1,0]"), ("far", "[9,9,9]")],
        )
        rows = await connection.fetch("SELECT name FROM points ORDER BY v <-> '[1,0.9,0]'::vector LIMIT 2")
        assert [row["name"] for row in rows] == ["near", "origin"]
    finally:
        await connection.close()


async def test_rows_survive_stopping_and_starting_the_server(tmp_path: Path) -> None:
    import asyncpg

    async with local_services(tmp_path / "state", only=["postgres"]) as urls:
        assert urls.postgres is not None
        assert urls.nats is None
        connection = await asyncpg.connect(urls.postgres)
        await connection.execute("CREATE TABLE kept (id int)")
        await connection.execute("INSERT INTO kept VALUES (42)")
        await connection.close()
        first_url = urls.postgres
    async with local_services(tmp_path / "state", only=["postgres"]) as urls:
        assert urls.postgres == first_url  # the recorded port is reused
        connection = await asyncpg.connect(urls.postgres)
        assert await connection.fetchval("SELECT id FROM kept") == 42
        await connection.close()
