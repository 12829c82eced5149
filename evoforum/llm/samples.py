"""k answers to one prompt, each with its own seed.

``sample(client, request, k)`` asks ``k`` requests that differ only in ``params.seed``
(``seed``, ``seed + 1``, …, ``seed + k - 1``), all at once: a server with parallel slots decodes
them together. Each is an ordinary request with its own hash, so every layer treats a sample on
its own: ``Recording`` records and replays them one by one, ``Cached`` serves the ones answered
before and asks only for the rest, ``Metered`` charges each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from evoforum.llm.protocol import LLMClient
from evoforum.llm.types import ChatRequest, Completion


def sample_requests(request: ChatRequest, k: int, seed: int | None = None) -> list[ChatRequest]:
    """The ``k`` requests of ``request``'s samples: seeds ``seed`` (else the request's, else 0) onwards."""
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    first = seed if seed is not None else request.params.seed or 0
    return [seeded(request, first + index) for index in range(k)]


def seeded(request: ChatRequest, seed: int) -> ChatRequest:
    """``request`` with sampling seed ``seed`` (a new request, with its own hash)."""
    return request.model_copy(update={"params": request.params.model_copy(update={"seed": seed})})


async def sample(
    client: LLMClient, request: ChatRequest, k: int, *, seed: int | None = None
) -> list[Completion]:
    """``k`` answers to ``request``, the i-th asked with seed ``seed + i``, in that order."""
    return await ask_all(client, sample_requests(request, k, seed))


async def ask_all(client: LLMClient, requests: Sequence[ChatRequest]) -> list[Completion]:
    """Every request at once (the client's own limit decides how many are in flight); in order."""
    return list(await asyncio.gather(*(client.complete(request) for request in requests)))
