"""The Ray executor, on one small flow (``ray.init`` costs seconds and memory)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from evoforum.errors import Timeout
from evoforum.flow import Flow, Runtime, TaskState, task

ray = pytest.importorskip("ray")


@task
def seed(n: int) -> int:
    return n


@task(executor="ray")
def remote_double(seed: int) -> int:
    return seed * 2


@task(executor="ray")
def remote_fail(seed: int) -> int:
    raise LookupError("remote failure")


@task
def total(remote_double: int) -> int:
    return remote_double + 1


@pytest.mark.usefixtures("ray_session")
async def test_ray_tasks_run_remotely_and_failures_keep_their_cause() -> None:
    flow = seed >> [remote_double >> total, remote_fail]
    result = await flow.build().run({"n": 20}, runtime=Runtime(transcripts=False))
    assert result.tasks["total"].output == 41
    assert result.tasks["remote_fail"].state is TaskState.FAILED
    assert isinstance(result.errors["remote_fail"].cause, LookupError)


@task(executor="ray", timeout=0.5)
def remote_sleeper(pid_file: str) -> None:
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(6.0)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.usefixtures("ray_session")
async def test_a_timed_out_ray_task_is_cancelled_with_its_worker(tmp_path: Path) -> None:
    runtime = Runtime(transcripts=False)
    warm = await Flow.of(remote_double).build().run({"seed": 1}, runtime=runtime)  # a worker is up
    assert warm.output == 2
    pid_file = tmp_path / "pid"
    result = await Flow.of(remote_sleeper).build().run({"pid_file": str(pid_file)}, runtime=runtime)
    assert isinstance(result.errors["remote_sleeper"].cause, Timeout)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while not pid_file.exists():
        if loop.time() > deadline:
            return  # cancelled before a worker started it: it never ran
        await asyncio.sleep(0.05)
    pid = int(pid_file.read_text())
    deadline = loop.time() + 3.0
    while alive(pid):  # the worker running the 6 s call is killed, not left to finish
        assert loop.time() < deadline, "the worker of the timed-out call is still running"
        await asyncio.sleep(0.05)
