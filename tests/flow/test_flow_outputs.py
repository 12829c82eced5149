"""Task outputs are checked against their return annotation (pydantic's TypeAdapter)."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel
from typing_extensions import TypedDict  # pydantic checks typing.TypedDict from Python 3.12 on

from evoforum.errors import OutputMismatch, TaskFailed
from evoforum.flow import Retry, TaskState, task


class Report(BaseModel):
    passed: bool
    failures: int


class Totals(TypedDict):
    count: int


@dataclasses.dataclass
class Point:
    x: float


def _failure(result: Any, name: str) -> TaskFailed:
    assert result.tasks[name].state is TaskState.FAILED
    error = result.errors[name]
    assert isinstance(error.__cause__, OutputMismatch)
    return error


async def test_a_wrong_dict_from_a_model_task_fails_it_naming_the_task_and_the_field() -> None:
    @task
    def check() -> Report:
        return {"passed": True, "failures": "three"}  # type: ignore[return-value]

    @task
    def publish(check: Report) -> str:
        return "published"

    result = await (check >> publish).build().run()
    error = _failure(result, "check")
    assert "task 'check' returned a value that is not a Report" in str(error)
    assert "failures:" in str(error)
    assert result.tasks["publish"].state is TaskState.UPSTREAM_FAILED


async def test_every_way_a_task_runs_checks_its_output() -> None:
    @task
    async def direct() -> Report:  # a coroutine run as one asyncio task
        return {"passed": True}  # type: ignore[return-value]

    @task(retry=Retry(attempts=2))
    async def retried() -> Totals:  # the full path: a wrong output is a failed attempt
        return {"count": "many"}  # type: ignore[typeddict-item]

    @task(executor="thread")
    def threaded() -> Point:
        return {"x": "far"}  # type: ignore[return-value]

    @task
    def inline() -> list[int]:
        return [1, "two"]  # type: ignore[list-item]

    for t, field in ((direct, "failures"), (retried, "count"), (threaded, "x"), (inline, "1")):
        result = await t.build().run()
        error = _failure(result, t.name)
        assert f"task '{t.name}' returned" in str(error)
        assert f"{field}:" in str(error), str(error)
    assert (await retried.build().run()).tasks["retried"].attempts == 2


async def test_fitting_outputs_pass_and_a_dict_for_a_model_becomes_the_model() -> None:
    @task
    def report() -> Report:
        return {"passed": True, "failures": 0}  # type: ignore[return-value]

    @task
    def plain() -> int:
        return 3

    @task
    def anything() -> Any:
        return object

    @task
    def nothing() -> None:
        return None

    assert (await report.build().run()).output == Report(passed=True, failures=0)
    assert (await plain.build().run()).output == 3
    assert (await anything.build().run()).output is object
    assert (await nothing.build().run()).ok
