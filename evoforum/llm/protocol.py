"""The ``LLMClient`` protocol: the one seam between evoforum and any language model.

Every client and every wrapper (``Retrying``, ``Limited``, ``Timed``, ``Metered``, ``Recording``)
implements it, so they compose: ``Retrying(Metered(Limited(OpenAICompatible(...)), ...))``.
Tokens stream through ``on_token`` as they arrive; the returned ``Completion`` is authoritative.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from evoforum.llm.types import ChatRequest, Completion

TokenSink = Callable[[str], None]
"""Receives each streamed piece of text, in order."""


@runtime_checkable
class LLMClient(Protocol):
    """A chat and embedding model."""

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        """Answer ``request``; stream pieces of the answer to ``on_token`` when given."""
        ...

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> list[list[float]]:
        """One vector per text."""
        ...

    async def aclose(self) -> None:
        """Release connections; the client is not used afterwards."""
        ...


class Wrapper:
    """Base of the wrappers: forwards everything to ``inner``; subclasses override ``complete``."""

    def __init__(self, inner: LLMClient) -> None:
        self.inner = inner

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        return await self.inner.complete(request, on_token=on_token)

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> list[list[float]]:
        return await self.inner.embed(texts, model=model)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"
