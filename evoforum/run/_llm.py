"""The runner's language-model layers: answers served from the record first, and per-call settings.

``Cached`` sits on top of a recording client: a request answered before (in this run, a killed
run being resumed, or any run sharing the store) is served from the record at no cost; anything
else is asked and recorded. ``Sampling`` is what one workflow run or operator call sees: it sets
the model name, a sampling seed and a token cap on every request, and counts tokens.
"""

from __future__ import annotations

from evoforum.llm import Completion, LLMClient, Recording, TokenSink, Wrapper
from evoforum.llm.types import ChatRequest


class Cached(Wrapper):
    """Serve a request from ``recording``'s record when it is there, else ask ``inner``."""

    def __init__(self, inner: LLMClient, recording: Recording) -> None:
        super().__init__(inner)
        self.recording = recording
        self.hits = 0

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        found = await self.recording.lookup(request)
        if found is not None:
            self.hits += 1
            if on_token is not None:
                on_token(found.text)
            return found
        return await self.inner.complete(request, on_token=on_token)


class Sampling(Wrapper):
    """Sets ``model`` (when given), ``seed`` and a ``max_tokens`` cap on each request; counts tokens."""

    def __init__(
        self, inner: LLMClient, *, seed: int, model: str | None = None, max_tokens: int = 512
    ) -> None:
        super().__init__(inner)
        self.seed = seed
        self.model = model
        self.max_tokens = max_tokens
        self.tokens = 0
        self.calls = 0

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        params = request.params.model_copy(
            update={"seed": self.seed, "max_tokens": request.params.max_tokens or self.max_tokens}
        )
        # a fresh request, not model_copy: the copy would keep the cached hash of the original
        request = ChatRequest(
            model=self.model or request.model,
            messages=request.messages,
            params=params,
            output_schema=request.output_schema,
            schema_name=request.schema_name,
        )
        completion = await self.inner.complete(request, on_token=on_token)
        self.calls += 1
        self.tokens += completion.usage.prompt_tokens + completion.usage.completion_tokens
        return completion

    async def aclose(self) -> None:
        return None  # the shared client below is closed by its owner
