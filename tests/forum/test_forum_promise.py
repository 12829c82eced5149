"""Promises and agents: streaming to many readers, nesting, errors, cancellation, back-pressure."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from pydantic import BaseModel

from evoforum.errors import AgentFailed, BackendError, ForumError, NotSerializable, PromiseCancelled
from evoforum.forum import Forum, Message, MessagePromise, agent
from evoforum.forum.promise import recorded_cancellations


async def collect(promise: MessagePromise) -> list[str]:
    return [token async for token in promise]


async def read_until_raised(promise: MessagePromise) -> tuple[list[str], BaseException | None]:
    """The tokens a reader got, and what ended its loop with an error (None: a normal end)."""
    tokens: list[str] = []
    try:
        async for token in promise:
            tokens.append(token)
    except Exception as error:
        return tokens, error
    return tokens, None


@agent
async def counter(branch: list[Message], upto: int = 3) -> AsyncIterator[str]:
    for i in range(upto):
        yield f"{i} "
        await asyncio.sleep(0)


async def test_many_readers_get_every_token_and_await_gives_the_message() -> None:
    promise = counter("count", upto=5)
    readers = await asyncio.gather(*(collect(promise) for _ in range(3)))
    assert readers == [["0 ", "1 ", "2 ", "3 ", "4 "]] * 3
    message = await promise
    assert message.content == "0 1 2 3 4 "
    assert message.sender == "counter"
    assert message.parent == Message("count").hash


async def test_a_late_reader_replays_from_the_first_token() -> None:
    promise = counter(None, upto=4)
    early = await collect(promise)
    late = await collect(promise)
    assert early == late == ["0 ", "1 ", "2 ", "3 "]


async def test_tokens_stream_through_five_nested_agents_while_they_run() -> None:
    release = asyncio.Event()

    @agent
    async def innermost(branch: list[Message]) -> AsyncIterator[str]:
        yield "first"
        await release.wait()
        yield " last"

    def wrap(inner: object, depth: int) -> object:
        @agent(name=f"level{depth}")
        async def level(branch: list[Message]) -> AsyncIterator[object]:
            yield inner(branch)  # type: ignore[operator]

        return level

    top: object = innermost
    for depth in range(5):
        top = wrap(top, depth)
    promise = top("go")  # type: ignore[operator]
    seen: list[str] = []
    async for token in promise:
        seen.append(token)
        release.set()  # the inner agent only finishes after the outer reader saw its first token
    assert seen == ["first", " last"]
    assert (await promise).content == "first last"
    assert (await promise).sender == "level4"


async def test_coroutines_classes_models_and_keyword_arguments() -> None:
    class Verdict(BaseModel):
        ok: bool

    @agent
    async def judge(branch: list[Message], strict: bool) -> Verdict:
        return Verdict(ok=not strict and branch[-1].content == "fine")

    @agent
    class Greeter:
        async def run(self, branch: list[Message]) -> str:
            return f"hello {branch[-1].content}"

    verdict = await judge("fine", strict=False)
    assert verdict.kind == "data"
    assert verdict.to_model(Verdict) == Verdict(ok=True)
    assert (await Greeter("world")).content == "hello world"


async def test_an_exception_becomes_an_error_message_that_reraises() -> None:
    forum = Forum()

    @agent
    async def broken(branch: list[Message]) -> AsyncIterator[str]:
        yield "partial "
        raise ValueError("bad input")

    promise = broken("hi", forum=forum)
    with pytest.raises(AgentFailed, match="ValueError: bad input") as raised:
        await promise
    assert raised.value.error_type == "ValueError"
    tokens, ended = await read_until_raised(promise)
    assert tokens == ["partial "]
    assert isinstance(ended, AgentFailed)
    error = await promise.settled()
    assert error.kind == "error"
    stored = await forum.get(error.hash)
    with pytest.raises(AgentFailed, match="bad input"):
        stored.raise_error()


async def test_awaiting_a_failed_agent_names_its_exception_as_the_cause() -> None:
    @agent
    async def broken(branch: list[Message]) -> str:
        raise ValueError("bad input")

    with pytest.raises(AgentFailed) as raised:
        await broken("hi")
    cause = raised.value.details["cause"]
    assert isinstance(cause, ValueError)
    assert raised.value.__cause__ is cause
    assert raised.value.error_type == "ValueError"


async def test_a_failing_child_fails_its_parent() -> None:
    @agent
    async def child(branch: list[Message]) -> str:
        raise KeyError("gone")

    @agent
    async def parent(branch: list[Message]) -> AsyncIterator[object]:
        yield "asking: "
        yield child(branch)

    with pytest.raises(AgentFailed, match="child failed: KeyError") as raised:
        await parent("x")
    assert raised.value.error_type == "evoforum.errors.AgentFailed"


async def test_yielding_something_else_is_an_error_message() -> None:
    @agent
    async def odd(branch: list[Message]) -> AsyncIterator[object]:
        yield 42

    error = await odd(None).settled()
    assert error.kind == "error"
    assert error.content["type"] == f"{NotSerializable.__module__}.NotSerializable"


async def test_cancel_stops_the_agent_and_what_it_started() -> None:
    forum = Forum()
    started = asyncio.Event()
    inner_cancelled = asyncio.Event()
    inner_promises: list[MessagePromise] = []

    @agent
    async def sleeper(branch: list[Message]) -> AsyncIterator[str]:
        yield "zz"
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            inner_cancelled.set()
            raise
        yield "never"

    @agent(version="1")  # its closure holds events, which have no canonical value
    async def boss(branch: list[Message]) -> AsyncIterator[object]:
        yield "delegating "
        inner = sleeper(branch)
        inner_promises.append(inner)
        yield inner

    promise = boss("task", forum=forum)
    await started.wait()
    assert promise.cancel()
    assert not promise.cancel()  # already settled
    with pytest.raises(PromiseCancelled):
        await promise
    await asyncio.wait_for(inner_cancelled.wait(), 10)
    assert inner_promises[0].cancelled()
    with pytest.raises(PromiseCancelled):
        await inner_promises[0]
    tokens, ended = await read_until_raised(promise)
    assert "".join(tokens) == "delegating zz"
    assert isinstance(ended, PromiseCancelled)
    marker = await promise.settled()
    assert marker.kind == "cancelled"
    assert marker.content == "delegating zz"
    assert await forum.get(marker.hash) == marker
    assert marker.parent == Message("task").hash


async def test_cancel_before_the_agent_ever_ran() -> None:
    ran = False

    @agent
    async def never(branch: list[Message]) -> str:
        nonlocal ran
        ran = True
        return "x"

    forum = Forum()
    promise = never("hello?", forum=forum)
    promise.cancel()
    with pytest.raises(PromiseCancelled):
        await promise
    await asyncio.sleep(0)
    assert not ran
    marker = await promise.settled()
    assert [m.content for m in await forum.branch(marker.hash)] == ["hello?", ""]


def test_calling_an_agent_outside_async_code_is_a_clear_error() -> None:
    with pytest.raises(ForumError, match="running event loop"):
        counter(None)


async def test_a_slow_reader_holds_the_producer_back() -> None:
    @agent(max_lag=8)
    async def endless(branch: list[Message]) -> AsyncIterator[str]:
        while True:
            yield "t"

    promise = endless(None)
    read = 0
    async for _ in promise:
        read += 1
        assert len(promise.text) - read <= 8 + 1
        await asyncio.sleep(0.001 if read % 10 == 0 else 0)
        if read == 200:
            break
    promise.cancel()
    assert len(promise.text) <= 200 + 8 + 1


async def test_a_reader_that_stops_early_does_not_stall_the_producer() -> None:
    @agent(max_lag=4)
    async def finite(branch: list[Message]) -> AsyncIterator[str]:
        for _ in range(100):
            yield "t"

    promise = finite(None)
    async for _ in promise:
        break
    message = await asyncio.wait_for(promise, 10)
    assert message.content == "t" * 100


async def test_ready_promise_and_ask() -> None:
    forum = Forum()
    ready = MessagePromise.ready(Message("done", "bot"))
    assert await collect(ready) == ["done"]
    chat = await forum.append(None, ["what is 2+2?"])

    @agent
    async def solver(branch: list[Message]) -> str:
        return f"{len(branch)} message(s) seen"

    answer = await forum.ask(solver, chat[-1].hash)
    assert answer.content == "1 message(s) seen"
    assert [m.hash for m in await forum.children(chat[-1].hash)] == [answer.hash]


async def test_back_pressure_reaches_through_nested_agents() -> None:
    produced = 0

    @agent(max_lag=8)
    async def endless(branch: list[Message]) -> AsyncIterator[str]:
        nonlocal produced
        while True:
            produced += 1
            yield "t"

    @agent(max_lag=8)
    async def relay(branch: list[Message]) -> AsyncIterator[MessagePromise]:
        yield endless(branch)

    promise = relay(None)
    read = 0
    async for _ in promise:
        read += 1
        assert produced - read <= 8 + 1
        if read % 10 == 0:
            await asyncio.sleep(0.001)
        if read == 100:
            break
    promise.cancel()


async def test_one_reader_cancelled_while_waiting_does_not_disturb_the_others() -> None:
    gate = asyncio.Event()

    @agent
    async def slow(branch: list[Message]) -> AsyncIterator[str]:
        yield "a"
        await gate.wait()
        yield "b"

    promise = slow(None)
    doomed = asyncio.create_task(collect(promise))
    survivor = asyncio.create_task(collect(promise))
    await asyncio.sleep(0.01)  # both readers now wait for "b" on the shared wake-up
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    gate.set()
    assert await asyncio.wait_for(survivor, 10) == ["a", "b"]


async def test_a_custom_producer_streams_through_push() -> None:
    async def produce(promise: MessagePromise) -> Message:
        for token in ("a", "b", "c"):
            if promise.push(token):
                await promise.throttle()
            await asyncio.sleep(0)
        return Message(promise.text, "stream")

    promise = MessagePromise(produce, sender="stream", max_lag=1)
    assert await collect(promise) == ["a", "b", "c"]
    assert (await promise).content == "abc"


async def forever(promise: MessagePromise) -> Message:
    """A producer that never answers: its promise ends only by being cancelled."""
    await asyncio.sleep(3600)
    return Message("never")


async def cancelled_with(on_cancel: Callable[[Message], Awaitable[None]]) -> PromiseCancelled:
    """Cancel a promise of ``forever`` whose ``on_cancel`` is given; what awaiting it raised."""
    promise = MessagePromise(forever, sender="slow", on_cancel=on_cancel)
    assert promise.cancel()
    with pytest.raises(PromiseCancelled) as raised:
        await promise
    assert (await promise.settled()).kind == "cancelled"
    tokens, ended = await read_until_raised(promise)
    assert tokens == []
    assert isinstance(ended, PromiseCancelled)
    return raised.value


async def test_an_error_in_on_cancel_is_chained_and_logged_not_raised_instead(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(marker: Message) -> None:
        raise RuntimeError("cannot record the marker")

    raised = await cancelled_with(broken)
    assert isinstance(raised.__cause__, RuntimeError)
    assert "cannot record the marker" in caplog.text
    assert "Traceback" in caplog.text  # an unexpected error keeps its traceback


async def test_a_store_that_fails_while_a_marker_is_recorded_is_one_line_not_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def stopping(marker: Message) -> None:
        raise BackendError("PostgreSQL store failed: the database system is shutting down")

    raised = await cancelled_with(stopping)
    assert isinstance(raised.__cause__, BackendError)
    assert "recording the cancel marker of slow failed" in caplog.text
    assert "shutting down" in caplog.text
    assert "Traceback" not in caplog.text


async def test_a_stopping_run_can_wait_for_the_cancel_markers_still_being_recorded() -> None:
    recorded: list[Message] = []

    async def slow_store(marker: Message) -> None:
        await asyncio.sleep(0.2)
        recorded.append(marker)

    promises = [MessagePromise(forever, sender=f"agent_{i}", on_cancel=slow_store) for i in range(3)]
    for promise in promises:
        assert promise.cancel()
    assert recorded == []
    await recorded_cancellations(within_s=5)
    assert sorted(m.sender for m in recorded) == ["agent_0", "agent_1", "agent_2"]
    assert all(m.kind == "cancelled" for m in recorded)
    await recorded_cancellations(within_s=5)  # nothing left: returns at once
