"""The ``Embedder`` protocol and ``OpenAIEmbedder`` for any OpenAI-compatible ``/v1/embeddings``.

``evoforum.llm``'s client has the same ``embed`` method, so it serves as an ``Embedder`` too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

from evoforum.errors import LLMMisbehaved, LLMUnavailable, Timeout


class Embedder(Protocol):
    """Turns texts into vectors, one per text, in order."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class OpenAIEmbedder:
    """An ``Embedder`` on the server at ``base_url`` (ending in ``/v1``), through ``openai``'s async client."""

    def __init__(
        self, base_url: str, model: str, *, api_key: str | None = None, timeout: float = 60.0, batch: int = 64
    ) -> None:
        self.base_url, self.model, self.timeout, self.batch = base_url.rstrip("/"), model, timeout, batch
        self._api_key = api_key or "not-needed"
        self._client: Any = None

    def _openai(self) -> Any:
        if self._client is None:
            try:
                import openai
            except ImportError as error:  # pragma: no cover - openai is a dependency
                raise LLMUnavailable("OpenAIEmbedder needs the openai package: pip install openai") from error
            self._client = openai.AsyncOpenAI(base_url=self.base_url, api_key=self._api_key, max_retries=0)
        return self._client

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if isinstance(texts, str):
            raise TypeError("embed takes a sequence of texts, not one string")
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch):
            vectors.extend(await self._embed(list(texts[start : start + self.batch])))
        return vectors

    async def _embed(self, texts: list[str]) -> list[list[float]]:
        import openai

        try:
            async with asyncio.timeout(self.timeout):
                response = await self._openai().embeddings.create(
                    model=self.model, input=texts, encoding_format="float"
                )
        except TimeoutError:
            raise Timeout(f"no embeddings from {self.base_url} within {self.timeout:g} s") from None
        except openai.APIStatusError as error:
            raise LLMUnavailable(
                f"{self.base_url}/embeddings answered {error.status_code}: {error.message}",
                status=error.status_code,
            ) from None
        except openai.APIError as error:
            raise LLMUnavailable(f"{self.base_url}/embeddings failed: {error!r}") from None
        items = sorted(response.data, key=lambda item: item.index)
        if len(items) != len(texts) or any(not isinstance(item.embedding, list) for item in items):
            raise LLMMisbehaved(
                f"asked {self.base_url} for {len(texts)} embeddings, got {len(items)}",
                raw=str(response)[:2000],
            )
        return [[float(x) for x in item.embedding] for item in items]

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()
