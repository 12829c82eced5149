"""``SemanticMemory``: texts stored by meaning (an ``Embedder`` plus a ``VectorStore``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evoforum.errors import UsageError
from evoforum.hashing import digest
from evoforum.memory._embed import Embedder
from evoforum.memory._vectors import Filter, Hit, VectorStore

TEXT_KEY = "text"


def text_id(text: str) -> str:
    """The default id of a stored text: its content hash (so adding it again replaces it)."""
    return digest(text, domain="memory-text")


class SemanticMemory:
    """Add texts, find the closest ones to a text. Each hit's payload holds the text under ``"text"``."""

    def __init__(self, embedder: Embedder, store: VectorStore) -> None:
        self.embedder, self.store = embedder, store

    async def add(
        self,
        texts: Sequence[str],
        payloads: Sequence[Mapping[str, Any]] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Embed and store ``texts``; returns their ids (content hashes unless given)."""
        if isinstance(texts, str):
            raise UsageError("add takes a sequence of texts, not one string")
        if not texts:
            return []
        ids = list(ids) if ids is not None else [text_id(text) for text in texts]
        extra = payloads if payloads is not None else [{}] * len(texts)
        if not len(ids) == len(texts) == len(extra):
            raise UsageError(f"add got {len(texts)} texts, {len(ids)} ids and {len(extra)} payloads")
        vectors = await self.embedder.embed(texts)
        rows = [{**payload, TEXT_KEY: text} for text, payload in zip(texts, extra, strict=True)]
        await self.store.upsert(ids, vectors, rows)
        return ids

    async def search(self, text: str, k: int = 5, filter: Filter | None = None) -> list[Hit]:
        """The ``k`` stored texts closest in meaning to ``text``, best first."""
        [vector] = await self.embedder.embed([text])
        return await self.store.query(vector, k, filter)

    async def delete(self, ids: Sequence[str]) -> None:
        await self.store.delete(ids)
