"""Retry with seeded backoff, concurrency limit and time limit, on a scripted in-process client."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence

import pytest

from evoforum.errors import LLMMisbehaved, LLMUnavailable, Timeout
from evoforum.llm import ChatRequest, Completion, Limited, Retrying, Timed, TokenSink, chat_request

REQUEST = chat_request("m", "hello")


class Scripted:
    """Answers from a script: an exception to raise, or a text (streamed word by word)."""

    def __init__(self, script: Sequence[BaseException | str], delay: float = 0.0) -> None:
        self.script = list(script)
        self.calls = 0
        self.delay = delay
        self.active = 0
        self.peak = 0

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        step = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(self.delay)
            if isinstance(step, BaseException):
                raise step
            for word in step.split(" "):
                if word == "!BOOM":
                    raise LLMUnavailable("connection lost midway", retryable=True)
                if on_token is not None:
                    on_token(word + " ")
            text = step.replace(" !BOOM", "")
            return Completion(text=text, model=request.model)
        finally:
            self.active -= 1

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> list[list[float]]:
        return [[1.0] for _ in texts]

    async def aclose(self) -> None:
        pass


def sleeps() -> tuple[list[float], Callable[[float], Awaitable[None]]]:
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    return waited, sleep


def busy(status: int = 500, retry_after: float | None = None) -> LLMUnavailable:
    return LLMUnavailable(f"HTTP {status}", status=status, retryable=True, retry_after=retry_after)


async def test_transient_failures_are_retried_with_seeded_jittered_backoff() -> None:
    waits = []
    for _ in range(2):
        waited, sleep = sleeps()
        inner = Scripted([busy(), busy(429), Timeout("slow", retryable=True), "fine"])
        client = Retrying(inner, rng=random.Random(11), attempts=4, base_delay=0.5, sleep=sleep)
        assert (await client.complete(REQUEST)).text == "fine"
        assert inner.calls == 4
        waits.append(waited)
    assert waits[0] == waits[1]
    for attempt, wait in enumerate(waits[0], start=1):
        assert 0.5 * 0.5 * 2 ** (attempt - 1) <= wait < 0.5 * 2 ** (attempt - 1)


async def test_retry_after_is_honoured_up_to_max_delay() -> None:
    waited, sleep = sleeps()
    client = Retrying(Scripted([busy(429, 3.0), busy(429, 100.0), "ok"]), rng=random.Random(0), base_delay=0.01, max_delay=5.0, sleep=sleep)  # fmt: skip
    await client.complete(REQUEST)
    assert waited[0] >= 3.0
    assert waited[1] == 5.0


async def test_exhausted_retries_end_in_llm_unavailable() -> None:
    waited, sleep = sleeps()
    inner = Scripted([Timeout("slow", retryable=True)])
    client = Retrying(inner, rng=random.Random(0), attempts=3, sleep=sleep)
    with pytest.raises(LLMUnavailable, match="after 3 attempts") as caught:
        await client.complete(REQUEST)
    assert inner.calls == 3
    assert len(waited) == 2
    assert caught.value.attempts == 3


async def test_permanent_errors_are_not_retried() -> None:
    inner = Scripted([LLMUnavailable("HTTP 400", status=400, retryable=False), "never"])
    with pytest.raises(LLMUnavailable, match="HTTP 400"):
        await Retrying(inner, rng=random.Random(0)).complete(REQUEST)
    assert inner.calls == 1


async def test_empty_replies_are_retried_then_misbehaved() -> None:
    _, sleep = sleeps()
    inner = Scripted([""])
    with pytest.raises(LLMMisbehaved, match="empty reply") as caught:
        await Retrying(inner, rng=random.Random(0), attempts=2, sleep=sleep).complete(REQUEST)
    assert inner.calls == 2
    assert caught.value.raw == ""


async def test_stream_resumes_without_repeating_text() -> None:
    _, sleep = sleeps()
    inner = Scripted(["one two !BOOM", "one two three four"])
    seen: list[str] = []
    client = Retrying(inner, rng=random.Random(0), sleep=sleep)
    result = await client.complete(REQUEST, on_token=seen.append)
    assert "".join(seen) == "one two three four "
    assert result.text == "one two three four"


async def test_limited_bounds_concurrency() -> None:
    inner = Scripted(["ok"], delay=0.01)
    client = Limited(inner, 3)
    await asyncio.gather(*(client.complete(REQUEST) for _ in range(20)))
    assert inner.peak == 3
    assert inner.calls == 20


async def test_limited_counts_the_calls_in_flight_and_queued() -> None:
    inner = Scripted(["ok"], delay=0.05)
    client = Limited(inner, 3)
    calls = [asyncio.create_task(client.complete(REQUEST)) for _ in range(5)]
    await asyncio.sleep(0.01)
    assert (client.in_flight, client.queued) == (3, 2)
    await asyncio.gather(*calls)
    assert (client.in_flight, client.queued) == (0, 0)
    failing = Limited(Scripted([LLMUnavailable("down")]), 1)
    with pytest.raises(LLMUnavailable):
        await failing.complete(REQUEST)
    assert (failing.in_flight, failing.queued) == (0, 0)


async def test_timed_raises_timeout_and_retrying_recovers() -> None:
    slow = Scripted(["late"], delay=5.0)
    with pytest.raises(Timeout, match=r"within 0\.05 s"):
        await Timed(slow, 0.05).complete(REQUEST)
    _, sleep = sleeps()

    class SlowThenFast(Scripted):
        async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
            self.delay = 5.0 if self.calls == 0 else 0.0
            return await super().complete(request, on_token=on_token)

    client = Retrying(Timed(SlowThenFast(["fast"]), 0.05), rng=random.Random(0), sleep=sleep)
    assert (await client.complete(REQUEST)).text == "fast"


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="attempts"):
        Retrying(Scripted(["x"]), rng=random.Random(0), attempts=0)
    with pytest.raises(ValueError, match="max_concurrent"):
        Limited(Scripted(["x"]), 0)
