"""Executors: threads and a process pool; the flow's transcript in the forum."""

from __future__ import annotations

import os
import threading

from pydantic import BaseModel

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
