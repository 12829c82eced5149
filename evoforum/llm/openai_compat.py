"""``OpenAICompatible``: the real client, for any server that speaks the OpenAI chat API.

OpenAI, vLLM, Ollama, llama.cpp and evoforum's own ``StubServer`` all qualify. ``openai`` (3.x,
built on ``httpx2``) is imported on first use. Its errors are translated here, at the seam:

- 429, 5xx, connection failures -> ``LLMUnavailable`` with ``retryable=True``
- other 4xx -> ``LLMUnavailable`` with ``retryable=False`` (a request the server refuses)
- no answer within ``timeout`` seconds of getting a connection (also a stream that trickles)
  -> ``Timeout``
- a reply that is not a chat completion -> ``LLMMisbehaved`` with ``retryable=True``

The client does no retrying itself (``max_retries=0``): ``Retrying`` does, with seeded jitter.

Connection pools: httpcore's pool scans all its queued requests and idle connections on every
request, so one pool with a thousand requests queued costs O(n²). The client therefore spreads
``max_connections`` over ``pool_shards`` pools (one ``AsyncOpenAI`` + httpx2 client each, taken in
turn) and lets no more requests into a pool than it has connections.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any

import orjson

from evoforum.errors import LLMMisbehaved, LLMUnavailable, Timeout
from evoforum.llm._openai_io import (
    SchemaMode,
    completion_from_json,
    openai_error,
    refuses_json_schema,
    request_body,
)
from evoforum.llm._tokens import count_prompt, count_tokens
from evoforum.llm.protocol import TokenSink
from evoforum.llm.types import ChatRequest, Completion, Usage


class OpenAICompatible:
    """A chat/embedding client for the server at ``base_url`` (ending in ``/v1``).

    ``model`` is used by ``embed`` when no model is named (chat requests carry their own).
    ``schema_mode`` says how an output schema is sent (see ``SchemaMode``); with ``auto`` a
    server that refuses json_schema is asked again with llama.cpp's json_object form, and that
    form is kept for later calls. ``max_connections`` bounds the connections in all pools
    together; ``pool_shards`` defaults to one pool per 16 connections.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_connections: int = 128,
        schema_mode: SchemaMode = "auto",
        stream_usage: bool = True,
        pool_shards: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = timeout
        self.max_connections = max_connections
        self.schema_mode: SchemaMode = schema_mode
        self.stream_usage = stream_usage
        self._api_key = api_key or "not-needed"
        self.pool_shards = max(1, min(max_connections, pool_shards or -(-max_connections // 16)))
        self._pools: list[tuple[Any, asyncio.Semaphore]] = []
        self._turn = 0

    def __repr__(self) -> str:
        return f"OpenAICompatible({self.base_url!r}, {self.model!r})"

    def _pool(self) -> tuple[Any, asyncio.Semaphore]:
        """The next pool in turn: an ``AsyncOpenAI`` client and the gate in front of it."""
        if not self._pools:
            try:
                import httpx2
                import openai
            except ImportError as error:  # pragma: no cover - a dependency of evoforum
                raise LLMUnavailable("the openai package is not installed: pip install openai") from error
            per = -(-self.max_connections // self.pool_shards)
            for _ in range(self.pool_shards):
                limits = httpx2.Limits(max_connections=per, max_keepalive_connections=per)
                http = httpx2.AsyncClient(limits=limits, timeout=httpx2.Timeout(self.timeout, connect=5.0))
                client = openai.AsyncOpenAI(
                    base_url=self.base_url, api_key=self._api_key, max_retries=0, http_client=http
                )
                self._pools.append((client, asyncio.Semaphore(per)))
        self._turn = (self._turn + 1) % len(self._pools)
        return self._pools[self._turn]

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        try:
            return await self._complete(request, on_token)
        except LLMUnavailable as error:
            if request.output_schema is None or self.schema_mode != "auto" or not refuses_json_schema(error):
                raise
            self.schema_mode = "json_object"
            return await self._complete(request, on_token)

    async def _complete(self, request: ChatRequest, on_token: TokenSink | None) -> Completion:
        client, gate = self._pool()
        body = request_body(request, schema_mode=self.schema_mode)
        try:
            async with gate, asyncio.timeout(self.timeout):
                if on_token is None:
                    raw = await client.post(
                        "/chat/completions", content=orjson.dumps(body), cast_to=bytes, options=_JSON
                    )
                    return completion_from_json(request, raw)
                return await self._stream(client, request, body, on_token)
        except TimeoutError:
            raise Timeout(
                f"the model at {self.base_url} gave no answer within {self.timeout:g} s",
                seconds=self.timeout,
                retryable=True,
            ) from None
        except (LLMMisbehaved, LLMUnavailable, Timeout):
            raise
        except Exception as error:
            raise openai_error(error, self.base_url) from None

    async def _stream(
        self, client: Any, request: ChatRequest, body: dict[str, Any], on_token: TokenSink
    ) -> Completion:
        body["stream"] = True
        if self.stream_usage:
            body["stream_options"] = {"include_usage": True}
        completion_type, chunk_type, stream_type = _types()
        stream = await client.post(
            "/chat/completions",
            body=body,
            cast_to=completion_type,
            stream=True,
            stream_cls=stream_type[chunk_type],
        )
        pieces: list[str] = []
        usage: Usage | None = None
        finish: str | None = None
        model = request.model
        async with stream:
            async for chunk in stream:
                model = getattr(chunk, "model", None) or model
                if getattr(chunk, "usage", None) is not None:
                    usage = Usage(
                        prompt_tokens=chunk.usage.prompt_tokens or 0,
                        completion_tokens=chunk.usage.completion_tokens or 0,
                    )
                for choice in chunk.choices or ():
                    piece = getattr(choice.delta, "content", None) if choice.delta is not None else None
                    if piece:
                        pieces.append(piece)
                        on_token(piece)
                    finish = choice.finish_reason or finish
        text = "".join(pieces)
        if usage is None:
            usage = Usage(
                prompt_tokens=count_prompt(m.content for m in request.messages),
                completion_tokens=count_tokens(text),
                counted=True,
            )
        return Completion(
            text=text, model=model, usage=usage, finish_reason=finish, request_hash=request.hash
        )

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> list[list[float]]:
        client, gate = self._pool()
        try:
            async with gate, asyncio.timeout(self.timeout):
                response = await client.embeddings.create(model=model or self.model, input=list(texts))
            vectors = [list(map(float, item.embedding)) for item in response.data]
        except TimeoutError:
            raise Timeout(f"no embeddings within {self.timeout:g} s", seconds=self.timeout) from None
        except (LLMMisbehaved, LLMUnavailable, Timeout):
            raise
        except Exception as error:
            raise openai_error(error, self.base_url) from None
        if len(vectors) != len(texts):
            raise LLMMisbehaved(
                f"asked for {len(texts)} embeddings, got {len(vectors)}", raw=str(vectors)[:2000]
            )
        return vectors

    async def aclose(self) -> None:
        pools, self._pools = self._pools, []
        for client, _gate in pools:
            await client.close()


_JSON: Any = {"headers": {"Content-Type": "application/json"}}


@functools.cache
def _types() -> tuple[Any, Any, Any]:
    """``ChatCompletion``, ``ChatCompletionChunk`` and ``AsyncStream`` of openai, imported on first use."""
    import openai
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    return ChatCompletion, ChatCompletionChunk, openai.AsyncStream
