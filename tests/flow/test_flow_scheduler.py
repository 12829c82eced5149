"""The scheduler: own-parent starts, failure propagation, retries, timeouts, no polling."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from evoforum.errors import TaskFailed, Timeout
from evoforum.flow import Flow, Retry, Runtime, TaskState, dag, task


async def test_fast_branch_child_starts_before_slow_sibling_finishes() -> None:
    """Germinate waited for a whole phase; here ``fast_child`` must run while ``slow`` waits.

    ``slow`` only finishes once ``fast_child`` has run, so a phase barrier would deadlock.
    """
    gate = asyncio.Event()
    events: list[str] = []

    @task
    def root() -> int:
        return 1

    @task
    async def slow(root: int) -> int:
        events.append("slow started")
        await gate.wait()
        events.append("slow finished")
        return root

    @task
    async def fast(root: int) -> int:
        return root

    @task
    def fast_child(fast: int) -> int:
        events.append("fast_child ran")
        gate.set()
        return fast

    flow = root >> [slow, fast]
    flow = dag(flow, fast >> fast_child)
    result = await asyncio.wait_for(flow.build().run(), timeout=30)
    assert result.ok
    assert events.index("fast_child ran") < events.index("slow finished")


class _TimerSpy(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        super().__init__()
        self.timers: list[float] = []

    def call_at(self, when: float, callback: Any, *args: Any, context: Any = None) -> asyncio.TimerHandle:
        self.timers.append(when)
        return super().call_at(when, callback, *args, context=context)


def test_completion_is_event_driven_without_timers() -> None:
    """Germinate polled with 10-second ticks; this run schedules no timer at all."""

    @task
    async def produce() -> int:
        future = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(future.set_result, 41)
        return await future

    @task
    async def consume(produce: int) -> int:
        await asyncio.sleep(0)
        return produce + 1

    @task
    def finish(consume: int) -> int:
        return consume

    compiled = (produce >> consume >> finish).build()
    loop = _TimerSpy()
    try:
        result = loop.run_until_complete(compiled.run(runtime=Runtime(transcripts=False)))
    finally:
        loop.close()
    assert result.output == 42
    assert loop.timers == []


async def test_failure_fails_dependents_and_spares_unrelated_branches() -> None:
    @task
    def start() -> int:
        return 1

    @task
    async def broken(start: int) -> int:
        raise ValueError("no good")

    @task
    def after(broken: int) -> int:
        return broken

    @task
    def after_after(after: int) -> int:
        return after

    @task
    async def healthy(start: int) -> int:
        return start + 1

    flow = dag(start >> broken >> after >> after_after, start >> healthy)
    result = await flow.build().run()
    states = {name: outcome.state for name, outcome in result.tasks.items()}
    assert states == {
        "start": TaskState.SUCCEEDED,
        "broken": TaskState.FAILED,
        "after": TaskState.UPSTREAM_FAILED,
        "after_after": TaskState.UPSTREAM_FAILED,
        "healthy": TaskState.SUCCEEDED,
    }
    assert result.tasks["healthy"].output == 2
    error = result.errors["after_after"]
    assert isinstance(error, TaskFailed)
    assert error.upstream == "broken"
    assert isinstance(error.cause, ValueError)
    assert result.errors["broken"].upstream is None
    with pytest.raises(TaskFailed, match="upstream task 'broken' failed"):
        _ = result.output
    with pytest.raises(TaskFailed, match="task 'broken' failed"):
        result.raise_for_failure()


async def test_a_task_is_done_only_after_it_ran() -> None:
    """Germinate acknowledged a task before running it, so a failure lost it. Here a failing
    attempt is retried and the task is reported by what actually happened."""
    calls: list[int] = []

    @task(retry=Retry(attempts=3))
    def flaky() -> str:
        calls.append(len(calls) + 1)
        if len(calls) < 3:
            raise ConnectionError("try again")
        return "done"

    @task
    def child(flaky: str) -> str:
        return flaky + "!"

    result = await (flaky >> child).build().run()
    assert calls == [1, 2, 3]
    assert result.tasks["flaky"].attempts == 3
    assert result.output == "done!"

    @task(retry=2)
    def always_broken() -> str:
        raise ConnectionError("down")

    failed = await (always_broken >> child.named("child2")).build().run()
    assert failed.tasks["always_broken"].state is TaskState.FAILED
    assert failed.tasks["always_broken"].attempts == 2
    assert failed.tasks["child2"].state is TaskState.UPSTREAM_FAILED


async def test_retry_only_on_the_listed_errors() -> None:
    calls = 0

    @task(retry=Retry(attempts=5, on=(ConnectionError,)))
    def picky() -> None:
        nonlocal calls
        calls += 1
        raise KeyError("not retried")

    result = await Flow.of(picky).build().run()
    assert calls == 1
    assert isinstance(result.errors["picky"].cause, KeyError)


def test_retry_backoff_delays() -> None:
    policy = Retry(attempts=5, backoff=0.5, multiplier=2, max_delay=3)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]


async def test_timeout_fails_the_task_with_timeout() -> None:
    never = asyncio.Event()

    @task(timeout=0.05)
    async def stuck() -> None:
        await never.wait()

    @task(timeout=0.05)
    def blocking() -> None:
        import time

        time.sleep(0.3)

    result = await dag(stuck, blocking).build().run()
    for name in ("stuck", "blocking"):
        assert result.tasks[name].state is TaskState.FAILED
        assert isinstance(result.errors[name].cause, Timeout)


async def test_own_timeout_error_is_not_mistaken_for_the_limit() -> None:
    @task(timeout=10)
    async def raises_timeout_error() -> None:
        raise TimeoutError("inner")

    result = await Flow.of(raises_timeout_error).build().run()
    cause = result.errors["raises_timeout_error"].cause
    assert type(cause) is TimeoutError


async def test_cancelling_a_run_cancels_its_running_tasks() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    @task
    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    running = asyncio.ensure_future(Flow.of(forever).build().run())
    await started.wait()
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    assert cancelled.is_set()


async def test_many_sync_tasks_run_inline() -> None:
    def step(value: int) -> int:
        return value + 1

    chain = [task(step).named(f"t{i}", output="value") for i in range(300)]
    flow = Flow.of(chain[0])
    for nxt in chain[1:]:
        flow = flow >> nxt
    result = await flow.build().run({"t0.value": 0}, runtime=Runtime(transcripts=False))
    assert result.output == 300
    assert list(result.tasks) == [f"t{i}" for i in range(300)]


async def test_an_async_task_whose_call_raises_fails_with_its_downstream_and_the_run_ends() -> None:
    """Calling ``late`` raises at once (its parameter is positional-only, tasks get keywords); it
    is started from a done-callback, after ``first`` suspended, where an escaping error hung the run."""

    @task
    async def first() -> int:
        await asyncio.sleep(0)
        return 1

    @task
    async def late(first: int, /) -> int:
        return first

    @task
    def after(late: int) -> int:
        return late

    @task
    async def early(x: int, /) -> int:  # started by run() itself, before anything suspended
        return x

    @task
    async def unrelated() -> str:
        await asyncio.sleep(0)
        return "fine"

    flow = dag(first >> late >> after, early, unrelated)
    result = await asyncio.wait_for(flow.build().run({"x": 2}), timeout=10)
    assert {name: outcome.state for name, outcome in result.tasks.items()} == {
        "first": TaskState.SUCCEEDED,
        "late": TaskState.FAILED,
        "after": TaskState.UPSTREAM_FAILED,
        "early": TaskState.FAILED,
        "unrelated": TaskState.SUCCEEDED,
    }
    assert "task 'late' failed: TypeError" in str(result.errors["late"])
    assert "positional-only" in str(result.errors["late"])
    assert result.errors["after"].upstream == "late"
