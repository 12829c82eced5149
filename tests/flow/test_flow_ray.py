"""The Ray executor, on one small flow (``ray.init`` costs seconds and memory)."""

from __future__ import annotations

import pytest

from evoforum.flow import Runtime, TaskState, task

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
