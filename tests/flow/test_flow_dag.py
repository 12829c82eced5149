"""Building flows: ``>>`` semantics, wiring, and the build checks."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel

from evoforum.errors import FlowInvalid
from evoforum.flow import Depends, Flow, dag, task


class Draft(BaseModel):
    text: str


class Review(BaseModel):
    score: int


@task
def plan(topic: str) -> Draft:
    return Draft(text=f"plan for {topic}")


@task
def left(plan: Draft) -> int:
    return len(plan.text)


@task
def right(plan: Draft) -> str:
    return plan.text.upper()


@task
def join(left: int, right: str) -> str:
    return f"{right}:{left}"


def edge_names(flow: Flow) -> set[tuple[str, str]]:
    return {(a.name, b.name) for a, b in flow.edges}


def test_chain_with_fan_out_and_fan_in_holds_every_edge() -> None:
    flow = plan >> [left, right] >> join
    assert isinstance(flow, Flow)
    assert edge_names(flow) == {("plan", "left"), ("plan", "right"), ("left", "join"), ("right", "join")}
    assert [t.name for t in flow.tasks] == ["plan", "left", "right", "join"]
    assert flow.heads == (plan,)
    assert flow.tails == (join,)


def test_rshift_is_pure() -> None:
    first = plan >> left
    second = first >> join
    assert edge_names(first) == {("plan", "left")}
    assert edge_names(second) == {("plan", "left"), ("left", "join")}
    # the task itself is not changed by being used in flows
    assert not hasattr(plan, "downstream")
    assert plan.name == "plan"


def test_list_on_the_left_and_lshift() -> None:
    fan_in = [left, right] >> join
    assert edge_names(fan_in) == {("left", "join"), ("right", "join")}
    backwards = join << [left, right]
    assert edge_names(backwards) == edge_names(fan_in)


def test_flow_on_the_right_links_to_its_heads() -> None:
    flow = plan >> (left >> join)
    assert edge_names(flow) == {("plan", "left"), ("left", "join")}


def test_dag_merges_parts_and_explicit_edges() -> None:
    flow = dag(plan >> left, plan >> right, edges=[(left, join), (right, join)])
    assert edge_names(flow) == {("plan", "left"), ("plan", "right"), ("left", "join"), ("right", "join")}
    assert flow.roots == (plan,)
    assert flow.leaves == (join,)


async def test_wiring_by_name_and_flow_inputs() -> None:
    compiled = (plan >> [left, right] >> join).build()
    assert dict(compiled.inputs) == {"topic": str}
    result = await compiled.run({"topic": "x"})
    assert result.output == "PLAN FOR X:10"


async def test_wiring_by_type_when_names_differ() -> None:
    @task
    def make() -> Draft:
        return Draft(text="abc")

    @task
    def measure(doc: Draft) -> int:
        return len(doc.text)

    result = await (make >> measure).build().run()
    assert result.output == 3


async def test_output_name_and_task_specific_inputs() -> None:
    @task(output="text")
    def write(prefix: str) -> str:
        return prefix + "!"

    @task
    def shout(text: str, times: int = 1) -> str:
        return text.upper() * times

    copy = shout.named("copy")
    flow = write >> [shout, copy]
    result = await flow.build().run({"prefix": "a", "copy.times": 2})
    assert result.output == {"shout": "A!", "copy": "A!A!"}


async def test_declared_input_of_a_non_root_task() -> None:
    @task
    def first() -> int:
        return 2

    @task
    def scale(first: int, factor: int) -> int:
        return first * factor

    with pytest.raises(FlowInvalid) as caught:
        (first >> scale).build()
    assert [p.path for p in caught.value.problems] == ["tasks.scale.factor"]
    result = await (first >> scale).build(inputs=["factor"]).run({"factor": 5})
    assert result.output == 10


def test_every_problem_is_reported_together() -> None:
    @task
    def a(x: int) -> int:
        return x

    @task
    def b(a: int) -> int:
        return a

    @task
    def c(b: int) -> int:
        return b

    @task
    def d(c: int) -> int:
        return c

    @task
    def typed(plan: int) -> int:
        return plan

    @task
    def lost(nothing: float, plan: Draft) -> float:
        return nothing

    other_a = a.named("a")
    flow = dag(b >> c >> b, c >> d, plan >> typed, plan >> lost, a, other_a)
    with pytest.raises(FlowInvalid) as caught:
        flow.build()
    problems = {p.path: p.what for p in caught.value.problems}
    assert "two different tasks" in problems["tasks.a"]
    assert "cycle: b -> c -> b" in problems["tasks.b"]
    assert "unreachable" in problems["tasks.d"]
    assert "expects int but parent 'plan' gives Draft" in problems["tasks.typed.plan"]
    assert "missing input" in problems["tasks.lost.nothing"]
    assert len(caught.value.problems) == 5


def clock() -> float:
    return 1.0


def test_injected_parameters_are_not_wired() -> None:
    @task
    def stamp(plan: Draft, now: Annotated[float, Depends(clock)], later: float = Depends(clock)) -> str:
        return plan.text

    signature = stamp.signature
    assert [p.name for p in signature.inputs] == ["plan"]
    assert [name for name, _ in signature.depends] == ["now", "later"]
    (plan >> stamp).build()


async def test_bad_run_inputs_are_reported_together() -> None:
    compiled = (plan >> left).build()
    with pytest.raises(FlowInvalid) as caught:
        await compiled.run({"topik": "x"})
    paths = sorted(p.path for p in caught.value.problems)
    assert paths == ["inputs.topic", "inputs.topik"]


async def test_flow_inputs_are_validated_and_coerced() -> None:
    @task
    def count(doc: Draft) -> int:
        return len(doc.text)

    compiled = Flow.of(count).build()
    assert (await compiled.run({"doc": {"text": "four"}})).output == 4
    with pytest.raises(FlowInvalid):
        await compiled.run({"doc": {"words": 1}})


def test_several_parents_with_the_same_output_name() -> None:
    @task(output="value")
    def one() -> int:
        return 1

    @task(output="value")
    def two() -> int:
        return 2

    @task
    def use(value: int) -> int:
        return value

    with pytest.raises(FlowInvalid, match="several parents give 'value'"):
        ([one, two] >> use).build()


def test_flow_invalid_is_picklable() -> None:
    import pickle

    with pytest.raises(FlowInvalid) as caught:
        (left >> left.named("again") >> left).build()
    again = pickle.loads(pickle.dumps(caught.value))
    assert again.problems == caught.value.problems
