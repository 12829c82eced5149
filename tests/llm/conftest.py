"""Fixtures of the LLM tests: the seeded stub server, and the real local model when available."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from evoforum.llm.stub import StubServer


@pytest.fixture
async def stub() -> AsyncIterator[StubServer]:
    async with StubServer(seed=7) as server:
        yield server


@pytest.fixture
def local_model(llm_url: str, llm_model: str) -> tuple[str, str]:
    """(url, model name) of the real local model from the session fixtures."""
    return llm_url, llm_model
