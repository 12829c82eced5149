"""Executors: threads and a process pool; the flow's transcript in the forum."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

from pydantic import BaseModel

from evoforum.errors import Timeout
from evoforum.flow import Flow, Runtime, TaskState, dag, task


class Numbers(BaseModel):
    values: list[int]


@task
def numbers(count: int) -> Numbers:
    return Numbers(values=list(range(count)))


@task(executor="process")
def square_sum(numbers: Numbers) -> tuple[int, int]:
    return sum(v * v for v in numbers.values), os.getpid()


@task(executor="process")
async def async_in_process(numbers: Numbers) -> int:
    return len(numbers.values)


@task(executor="process")
def broken_in_process(numbers: Numbers) -> int:
    raise ArithmeticError("bad arithmetic")


@task(executor="thread")
def in_thread(numbers: Numbers) -> str:
    return threading.current_thread().name


async def test_process_and_thread_executors() -> None:
    flow = numbers >> [square_sum, async_in_process, broken_in_process, in_thread]
    async with Runtime(processes=1) as runtime:
        result = await flow.build().run({"count": 4}, runtime=runtime)
    total, pid = result.tasks["square_sum"].output
    assert total == 14
    assert pid != os.getpid()
    assert result.tasks["async_in_process"].output == 4
    assert result.tasks["in_thread"].output != threading.current_thread().name
    assert result.tasks["broken_in_process"].state is TaskState.FAILED
    assert isinstance(result.errors["broken_in_process"].cause, ArithmeticError)


async def test_run_transcript_is_a_branch_of_task_messages() -> None:
    @task
    def fails(numbers: Numbers) -> int:
        raise ValueError("nope")

    @task
    def after(fails: int) -> int:
        return fails

    runtime = Runtime()
    result = await dag(numbers >> fails >> after).build().run({"count": 2}, runtime=runtime)
    assert result.transcript is not None
    branch = await runtime.forum.branch(result.transcript)
    assert [m.sender for m in branch] == ["evoforum.flow", "numbers", "fails", "after"]
    assert branch[0].content == {"inputs": {"count": 2}}
    assert branch[1].kind == "data"
    assert branch[1].content == {"values": [0, 1]}
    assert branch[2].kind == "error"
    assert "nope" in branch[2].content["text"]
    assert branch[3].kind == "error"
    assert branch[-1].hash == result.transcript


async def test_identical_runs_name_identical_transcripts() -> None:
    compiled = Flow.of(numbers).build()
    runtime = Runtime()
    first = await compiled.run({"count": 3}, runtime=runtime)
    second = await compiled.run({"count": 3}, runtime=runtime)
    third = await compiled.run({"count": 4}, runtime=runtime)
    assert first.transcript == second.transcript != third.transcript


async def test_outputs_json_cannot_hold_are_written_as_text() -> None:
    @task
    def odd() -> float:
        return float("nan")

    @task
    def opaque() -> object:
        return object()

    runtime = Runtime()
    result = await dag(odd, opaque).build().run(runtime=runtime)
    assert result.ok
    branch = await runtime.forum.branch(result.transcript)
    assert branch[1].content == "nan"
    assert branch[1].metadata["repr"] is True
    assert branch[2].content.startswith("<object object")


@task(executor="process", timeout=0.5)
def sleeps_past_its_timeout(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@task(executor="process")
def sleeps(seconds: float, marker: str) -> float:
    Path(marker).touch()
    time.sleep(seconds)
    return seconds


async def test_a_timeout_stops_a_process_task_and_the_pool_serves_the_next_call(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    async with Runtime(processes=1, transcripts=False) as runtime:
        started = loop.time()
        result = await Flow.of(sleeps_past_its_timeout).build().run({"seconds": 6.0}, runtime=runtime)
        took = loop.time() - started
        assert result.tasks["sleeps_past_its_timeout"].state is TaskState.FAILED
        assert isinstance(result.errors["sleeps_past_its_timeout"].cause, Timeout)
        assert took < 3.0  # the 6 s call was stopped, not waited for
        marker = str(tmp_path / "started")
        again = await Flow.of(sleeps).build().run({"seconds": 0.0, "marker": marker}, runtime=runtime)
        assert again.output == 0.0  # the one worker was replaced, not left busy with the 6 s call
    assert loop.time() - started < 4.0  # closing waited for nothing


async def test_closing_the_runtime_stops_running_process_tasks_off_the_event_loop(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    runtime = Runtime(processes=1, transcripts=False)
    marker = tmp_path / "started"
    running = asyncio.create_task(
        Flow.of(sleeps).build().run({"seconds": 6.0, "marker": str(marker)}, runtime=runtime)
    )
    for _ in range(3000):  # until the call runs in its worker
        if marker.exists():
            break
        await asyncio.sleep(0.01)
    gaps: list[float] = []

    async def ticks() -> None:
        last = loop.time()
        while True:
            await asyncio.sleep(0.01)
            now = loop.time()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(ticks())
    await asyncio.sleep(0.05)
    started = loop.time()
    await runtime.aclose()
    took = loop.time() - started
    await asyncio.sleep(0.05)
    ticker.cancel()
    result = await running
    assert took < 3.0
    assert max(gaps) < 0.5  # the loop kept running while the pool closed
    assert result.tasks["sleeps"].state is TaskState.FAILED
