"""The embedded PostgreSQL: pgvector works, data survives a restart of the server, and a clone inside a
private folder starts it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from evoforum.services import local_services
from evoforum.services._manager import Manager
from evoforum.services._pginstall import PostgresFiles, installed_files
from evoforum.services._state import StateDir
from evoforum.services.postgres import PostgresService

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


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder every user may enter, for root's copy of the programs."""
    folder = Path(tempfile.mkdtemp(prefix="evoforum-postgres-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def private_clone(tmp_path: Path) -> tuple[Path, PostgresFiles]:
    """A clone inside a private folder (mode 0700, like /root or ``mktemp -d``) and the PostgreSQL
    of its virtual environment (the installed files, linked or copied there)."""
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    clone = private / "evoforum"
    site = clone / ".venv" / "site-packages"
    installed = installed_files()
    for path, _ in installed.files:
        target = site / path
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(installed.site / path, target)
        except OSError:
            shutil.copy2(installed.site / path, target)
    return clone, PostgresFiles(site, installed.files)


async def test_a_clone_in_a_private_folder_starts_postgres(
    private_clone: tuple[Path, PostgresFiles], shared: Path
) -> None:
    import asyncpg

    clone, files = private_clone
    state = StateDir(clone / ".evoforum")
    manager = Manager(state, owned=True, services={"postgres": PostgresService(files, shared)})
    try:
        url = (await manager.ensure(["postgres"]))["postgres"]
        connection = await asyncpg.connect(url)
        assert await connection.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'vector'") == 1
        await connection.close()
        record = state.read_record("postgres")
        assert record is not None
        program = Path(record["argv"][0])
        # Not root: the server is this user and runs the clone's own programs. Root: the system
        # user runs a copy in the shared folder.
        assert program.is_relative_to(shared if os.geteuid() == 0 else clone)
        assert (clone / ".evoforum" / "postgres" / "data" / "PG_VERSION").is_file()  # data stays in the clone
    finally:
        await manager.stop_started()
