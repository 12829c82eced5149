"""State machines: guards on real outputs, fresh inputs in loops, callbacks, limits, nesting."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from evoforum.errors import FlowInvalid, RunError, StepLimitExceeded, TaskFailed
from evoforum.flow import Flow, Runtime, State, StateMachine, Transition, dag, task


class Code(BaseModel):
    source: str
    version: int


class Report(BaseModel):
    passed: bool
    failures: int


@task(output="code")
def write(spec: str) -> Code:
    return Code(source=f"# {spec}", version=1)


@task(output="report")
def run_tests(code: Code) -> Report:
    failures = max(0, 3 - code.version)
    return Report(passed=failures == 0, failures=failures)


@task(output="code")
def fix(code: Code, report: Report) -> Code:
    return Code(source=code.source + "\n# fixed", version=code.version + 1)


def passed(report: Report) -> bool:
    return report.passed


def failed(report: Report) -> bool:
    return not report.passed


def coding_loop(**options: Any) -> StateMachine:
    return StateMachine(
        states={
            "write": write,
            "test": run_tests,
            "fix": fix,
            "done": Flow.of(task(lambda: "ok").named("done")),
        },
        transitions=[
            Transition("write", "test"),
            Transition("test", "done", when=passed),
            Transition("test", "fix", when=failed),
            Transition("fix", "test"),
        ],
        **options,
    )


async def test_write_run_fix_loop_reads_fresh_inputs() -> None:
    """Germinate re-read the first input on every loop: ``test`` saw version 1 forever."""
    result = await coding_loop().build().run({"spec": "sort a list"})
    assert result.output == "ok"
    assert result.trace == (("write",), ("test",), ("fix",), ("test",), ("fix",), ("test",), ("done",))
    assert result.values["code"].version == 3
    reports = [run.output for run in result.runs if isinstance(run.output, Report)]
    assert [r.failures for r in reports] == [2, 1, 0]


async def test_guards_receive_the_state_output_never_an_empty_input() -> None:
    """Germinate called conditions with an empty input."""
    seen: list[Any] = []

    def record(report: Report) -> bool:
        seen.append(report)
        return True

    machine = StateMachine(
        states={"write": write, "test": run_tests, "end": Flow.of(task(lambda: None).named("end"))},
        transitions=[Transition("write", "test"), Transition("test", "end", when=record)],
    )
    await machine.run({"spec": "x"})
    assert seen == [Report(passed=False, failures=2)]


async def test_callback_order_is_enter_body_guard_exit_action() -> None:
    log: list[str] = []

    @task
    def body_a() -> int:
        log.append("body a")
        return 1

    @task
    def body_b(n: int) -> int:
        log.append("body b")
        return n

    def guard(value: int) -> bool:
        log.append(f"guard {value}")
        return True

    def action(value: int) -> dict[str, Any]:
        log.append("action")
        return {"n": value + 10}

    machine = StateMachine(
        states={
            "a": State(
                body=body_a, on_enter=lambda v: log.append("enter a"), on_exit=lambda o: log.append("exit a")
            ),
            "b": State(
                body=body_b,
                on_enter=lambda v: log.append(f"enter b n={v['n']}"),
                on_exit=lambda o: log.append("exit b"),
            ),
        },
        transitions=[Transition("a", "b", when=guard, action=action)],
    )
    result = await machine.run()
    assert result.output == 11
    assert log == ["enter a", "body a", "guard 1", "exit a", "action", "enter b n=11", "body b", "exit b"]


async def test_step_limit() -> None:
    @task
    def spin() -> int:
        return 0

    machine = StateMachine(
        states={"spin": spin, "never": spin.named("never")},
        transitions=[
            Transition("spin", "spin", when=lambda _: True),
            Transition("spin", "never", when=lambda _: False),
        ],
        max_steps=5,
    )
    runtime = Runtime()
    with pytest.raises(StepLimitExceeded) as caught:
        await machine.run(runtime=runtime)
    assert caught.value.path == ("spin",)
    assert caught.value.max_steps == 5
    branch = await runtime.forum.branch(caught.value.transcript)  # the conversation up to the limit
    assert len(branch) > 5


async def test_async_guards_are_awaited_with_the_state_output() -> None:
    seen: list[Report] = []

    async def tests_pass(report: Report) -> bool:
        seen.append(report)
        return report.passed

    async def tests_fail(report: Report) -> bool:
        return not report.passed

    machine = StateMachine(
        states={
            "write": write,
            "test": run_tests,
            "fix": fix,
            "done": Flow.of(task(lambda: "ok").named("done")),
        },
        transitions=[
            Transition("write", "test"),
            Transition("test", "done", when=tests_pass),
            Transition("test", "fix", when=tests_fail),
            Transition("fix", "test"),
        ],
        initial="write",
    )
    result = await machine.run({"spec": "sort"})
    assert result.state == ("done",)
    assert [report.failures for report in seen] == [2, 1, 0]


async def test_nested_machine_paths_are_tuples() -> None:
    inner = coding_loop()
    outer = StateMachine(
        states={"plan": task(lambda: "sort").named("spec", output="spec"), "code": inner},
        transitions=[Transition("plan", "code")],
    )
    result = await outer.run()
    assert result.state == ("code", "done")
    assert result.trace[:3] == (("plan",), ("code", "write"), ("code", "test"))


async def test_no_matching_guard_is_an_error() -> None:
    machine = StateMachine(
        states={"write": write, "test": run_tests, "done": run_tests.named("done")},
        transitions=[Transition("write", "test"), Transition("test", "done", when=passed)],
    )
    with pytest.raises(RunError, match="no transition"):
        await machine.run({"spec": "x"})


async def test_a_failing_state_fails_the_machine() -> None:
    @task
    def boom() -> int:
        raise ValueError("bad")

    with pytest.raises(TaskFailed) as caught:
        await StateMachine(states={"boom": boom}).run()
    assert caught.value.state == ("boom",)
    assert isinstance(caught.value.cause, ValueError)


def test_build_reports_every_problem_with_its_path() -> None:
    def wants_text(text: str) -> bool:
        return True

    @task
    def needs(a: int, b: int) -> int:
        return a

    machine = StateMachine(
        states={
            "write": write,
            "test": run_tests,
            "island": run_tests.named("island"),
            "bad": (needs >> needs.named("n2")),
        },
        transitions=[
            Transition("write", "tset"),
            Transition("write", "test", when=wants_text),
            Transition("test", "bad"),
        ],
        initial="write",
    )
    with pytest.raises(FlowInvalid) as caught:
        machine.build()
    problems = {p.path: p.what for p in caught.value.problems}
    assert "did you mean 'test'" in problems["transitions[0].target"]
    assert "takes str but state 'write' gives Code" in problems["transitions[1].when"]
    assert "unreachable" in problems["states.island"]
    assert any(path.startswith("states.bad.tasks.n2") for path in problems)


async def test_machine_run_writes_one_branch() -> None:
    runtime = Runtime()
    result = await coding_loop().build().run({"spec": "x"}, runtime=runtime)
    assert result.transcript is not None
    branch = await runtime.forum.branch(result.transcript)
    enters = [m.content["state"] for m in branch if m.metadata.get("event") == "enter"]
    assert enters == [["write"], ["test"], ["fix"], ["test"], ["fix"], ["test"], ["done"]]
    assert branch[-1].content == "ok"


async def test_guard_of_a_state_with_several_leaves_gets_the_output_dict() -> None:
    seen: list[dict[str, Any]] = []

    @task
    def one() -> int:
        return 1

    @task
    def two() -> str:
        return "two"

    def keep(outputs: dict[str, Any]) -> bool:
        seen.append(outputs)
        return True

    machine = StateMachine(
        states={"both": dag(one, two), "end": task(lambda: 0).named("end")},
        transitions=[Transition("both", "end", when=keep)],
    )
    await machine.run()
    assert seen == [{"one": 1, "two": "two"}]


async def test_missing_state_input_names_the_state() -> None:
    with pytest.raises(FlowInvalid) as caught:
        await coding_loop().run({})
    assert [p.path for p in caught.value.problems] == ["states.write.inputs.spec"]
