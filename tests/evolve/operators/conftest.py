"""Fixtures of the operator tests: spaces, random populations and the seeded stub model over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest

import search_spaces
from evoforum.genome import WorkflowGenome
from evoforum.llm import OpenAICompatible
from evoforum.llm.stub import StubServer

SPACES = ("code_writing", "qa_ensemble")


def population(space: str, size: int = 12) -> list[WorkflowGenome]:
    """Seeds and random genomes of ``space`` (the same every time)."""
    found = search_spaces.get(space)
    return [*found.seeds(), *(found.random_genome(np.random.default_rng(i)) for i in range(size))]


@pytest.fixture
async def stub_llm() -> AsyncIterator[OpenAICompatible]:
    """A client of a fresh stub server (seed 5)."""
    async with StubServer(seed=5) as server:
        client = OpenAICompatible(server.url, "stub")
        try:
            yield client
        finally:
            await client.aclose()
