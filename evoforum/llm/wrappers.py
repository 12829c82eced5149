"""Wrappers that add one behaviour each to any ``LLMClient``: retry, concurrency limit, time limit.

They compose by wrapping, never by inheritance from a concrete client::

    Retrying(Metered(Limited(Timed(OpenAICompatible(url, model), 30), 64), ledger), rng=rng)

``Timed`` inside ``Retrying`` limits each attempt; outside it limits the call as a whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from evoforum.errors import EvoforumError, LLMMisbehaved, LLMUnavailable, Timeout
from evoforum.llm.protocol import LLMClient, TokenSink, Wrapper
from evoforum.llm.types import ChatRequest, Completion


class Uniform(Protocol):
    """A seeded source of uniform floats in [0, 1): ``random.Random`` or ``numpy.random.Generator``."""

    def random(self) -> float: ...


def is_retryable(error: BaseException) -> bool:
    """Whether ``error`` is a transient failure worth another attempt."""
    return isinstance(error, EvoforumError) and bool(error.details.get("retryable", False))


class Retrying(Wrapper):
    """Retries transient failures (429, 5xx, timeouts, lost connections, malformed or empty replies).

    Attempt ``k`` (from 1) waits ``min(max_delay, base_delay * 2**(k-1))`` scaled by a jitter
    factor in [0.5, 1) drawn from ``rng`` — or the server's ``Retry-After`` when it is longer.
    A streamed answer that fails midway resumes: the next attempt's text is passed on only past
    what was already streamed. After the last attempt: ``LLMUnavailable`` for transport failures
    and timeouts, ``LLMMisbehaved`` for replies that never took form.
    """

    def __init__(
        self,
        inner: LLMClient,
        *,
        rng: Uniform,
        attempts: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        retry_empty: bool = True,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(inner)
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.rng = rng
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.retry_empty = retry_empty
        self._sleep = sleep

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (from 1)."""
        backoff = min(self.max_delay, self.base_delay * float(2 ** (attempt - 1)))
        wait = backoff * (0.5 + 0.5 * self.rng.random())
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay))
        return wait

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        resume = _Resume(on_token) if on_token is not None else None
        last: EvoforumError | None = None
        for attempt in range(1, self.attempts + 1):
            if resume is not None:
                resume.restart()
            try:
                completion = await self.inner.complete(request, on_token=resume)
            except EvoforumError as error:
                if not is_retryable(error):
                    raise
                last = error
            else:
                if completion.text or not self.retry_empty:
                    return completion
                last = LLMMisbehaved("the model sent an empty reply", raw="", retryable=True)
            if attempt < self.attempts:
                await self._sleep(self.delay(attempt, last.details.get("retry_after")))
        assert last is not None
        raise _final(last, self.attempts) from last


def _final(last: EvoforumError, attempts: int) -> EvoforumError:
    tail = f" (after {attempts} attempt{'s' if attempts != 1 else ''})"
    if isinstance(last, LLMMisbehaved):
        return LLMMisbehaved(last.message + tail, raw=last.details.get("raw", ""), attempts=attempts)
    return LLMUnavailable(
        last.message + tail, attempts=attempts, status=last.details.get("status"), retryable=False
    )


class _Resume:
    """Passes on streamed text only beyond what earlier attempts already passed on."""

    def __init__(self, sink: TokenSink) -> None:
        self.sink = sink
        self.emitted = 0
        self.seen = 0

    def restart(self) -> None:
        self.seen = 0

    def __call__(self, piece: str) -> None:
        start, self.seen = self.seen, self.seen + len(piece)
        if self.seen > self.emitted:
            fresh = piece[max(0, self.emitted - start) :]
            self.emitted = self.seen
            self.sink(fresh)


class Limited(Wrapper):
    """At most ``max_concurrent`` calls (chat and embed together) in flight at once.

    ``in_flight`` counts the calls sent and not yet answered, ``queued`` those waiting for a slot.
    """

    def __init__(self, inner: LLMClient, max_concurrent: int) -> None:
        super().__init__(inner)
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.max_concurrent = max_concurrent
        self.in_flight = 0
        self.queued = 0
        self._slots = asyncio.Semaphore(max_concurrent)

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        self.queued += 1
        try:
            await self._slots.acquire()
        finally:
            self.queued -= 1
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self._slots.release()

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        async with self._slot():
            return await self.inner.complete(request, on_token=on_token)

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> list[list[float]]:
        async with self._slot():
            return await self.inner.embed(texts, model=model)


class Timed(Wrapper):
    """Each call ends within ``seconds``, else ``Timeout`` (retryable, so ``Retrying`` may try again)."""

    def __init__(self, inner: LLMClient, seconds: float) -> None:
        super().__init__(inner)
        self.seconds = seconds

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        try:
            async with asyncio.timeout(self.seconds):
                return await self.inner.complete(request, on_token=on_token)
        except TimeoutError:
            raise Timeout(
                f"the model gave no answer within {self.seconds:g} s", seconds=self.seconds, retryable=True
            ) from None
