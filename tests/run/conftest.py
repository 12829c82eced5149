"""Fixtures shared by the run-layer tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from evoforum.forum import PostgresStore


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[PostgresStore]:
    """The forum store on the test session's PostgreSQL."""
    found = await PostgresStore.connect(postgres_url)
    try:
        yield found
    finally:
        await found.close()
