"""The build-time type check between connected ports."""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

import pytest
from pydantic import BaseModel

from evoforum.flow import Flow, Runtime, dag, task
from evoforum.flow._types import fits


class Animal(BaseModel):
    name: str


class Dog(Animal):
    pass


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        (int, int, True),
        (int, float, True),
        (float, int, False),
        (Dog, Animal, True),
        (Animal, Dog, False),
        (Any, Dog, True),
        (str, Any, True),
        (int, Optional[int], True),  # noqa: UP045
        (Optional[int], int, False),  # noqa: UP045
        (Union[int, str], Union[str, int, None], True),  # noqa: UP007
        (int | str, int, False),
        (list[Dog], list[Animal], True),
        (list[int], list[str], False),
        (dict[str, int], dict, True),
        (Literal["a", "b"], str, True),
        (Literal[1], str, False),
        (None, Optional[str], True),  # noqa: UP045
        (type(None), str, False),
    ],
)
def test_fits(source: Any, target: Any, expected: bool) -> None:
    assert fits(source, target) is expected


async def test_flow_constructor_and_runtime_run() -> None:
    @task
    def a() -> int:
        return 1

    @task
    def b(a: int) -> int:
        return a + 1

    @task
    def c(b: int) -> int:
        return b * 10

    explicit = Flow((a, b), [(a, b)])
    assert explicit.heads == (a,)
    assert explicit.tails == (b,)
    runtime = Runtime(transcripts=False)
    assert (await runtime.run(explicit >> c)).output == 20
    assert (await runtime.run(a)).output == 1
    assert (await runtime.run(dag(explicit, c, edges=[(b, c)]).build())).output == 20


class Plain:
    """A class pydantic has no schema for."""


async def test_flow_inputs_of_plain_classes_are_checked_by_isinstance() -> None:
    from evoforum.errors import FlowInvalid

    @task
    def use(thing: Plain) -> str:
        return type(thing).__name__

    compiled = Flow.of(use).build()
    assert (await compiled.run({"thing": Plain()})).output == "Plain"
    with pytest.raises(FlowInvalid, match="expected Plain, got int"):
        await compiled.run({"thing": 3})
