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
def local_model(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(url, model name) of the real local model from the session fixtures ``llm_url``/``llm_model``."""
    try:
        url = request.getfixturevalue("llm_url")
    except pytest.FixtureLookupError:
        pytest.skip("the llm_url session fixture is not available")
    try:
        model = request.getfixturevalue("llm_model")
    except pytest.FixtureLookupError:
        model = "local"
    return str(url), str(model)
