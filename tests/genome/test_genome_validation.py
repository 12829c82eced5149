"""Validation: each kind of problem, with its path and its text; all of them gathered at once."""

from __future__ import annotations

import inspect

import pytest

from evoforum.errors import GenomeInvalid
from evoforum.genome import (
    CompareSpec,
    DagSpec,
    FunctionAgentSpec,
    LLMAgentSpec,
    MachineSpec,
    PredicateSpec,
    StateSpec,
    TaskSpec,
    TransitionSpec,
    WorkflowGenome,
)
from evoforum.genome._graph import RESERVED_PARAMETERS
from evoforum.genome.memory_tasks import recall, remember
from evoforum.genome.runnable import ask, request
from tests.genome.helpers import CODE, machine, pipeline, wire


def problems(genome: WorkflowGenome) -> list[tuple[str, str]]:
    return [tuple(p) for p in genome.problems()]  # type: ignore[misc]


def only(genome: WorkflowGenome) -> tuple[str, str]:
    found = problems(genome)
    assert len(found) == 1, found
    return found[0]


def dag(*tasks: TaskSpec) -> DagSpec:
    return DagSpec(tasks=tasks)


def llm_task(name: str, *wires: object, agent: str = "writer") -> TaskSpec:
    return TaskSpec(name=name, agent=agent, inputs=wires)  # type: ignore[arg-type]


def test_valid_genomes_have_no_problems() -> None:
    assert problems(pipeline()) == []
    assert problems(machine()) == []
    assert pipeline().validate_all() == pipeline()


def test_every_problem_is_gathered_into_one_error() -> None:
    genome = pipeline(code="def (:\n", inputs=())
    with pytest.raises(GenomeInvalid) as caught:
        genome.validate_all()
    paths = [p.path for p in caught.value.problems]
    assert paths == ["code", "inputs", "entry.tasks[0].inputs[0].source.name"]
    assert "3 problems" in str(caught.value)


# -- code -------------------------------------------------------------------------------------


def test_code_that_does_not_parse() -> None:
    path, what = only(pipeline(code="def shout(text):\n    return (\n"))
    assert path == "code"
    assert what.startswith("does not parse:")
    assert "(line 2)" in what


def test_future_imports_in_code() -> None:
    assert only(pipeline(code="from __future__ import annotations\n" + CODE)) == (
        "code",
        "line 1: __future__ imports are not allowed in code",
    )


def test_function_defined_twice() -> None:
    path, what = only(pipeline(code=CODE + "\n\ndef shout(text):\n    return text\n"))
    assert (path, what) == ("code", "'shout' is defined twice (lines 1 and 13)")


# -- inputs and agents ------------------------------------------------------------------------


def test_no_inputs() -> None:
    genome = pipeline(inputs=(), entry=dag(TaskSpec(name="final", agent="loud", inputs=(wire("text", "x"),))))
    assert ("inputs", "a workflow needs at least one input") in problems(genome)


def test_input_that_is_not_a_name_and_input_named_twice() -> None:
    found = problems(pipeline(inputs=("topic", "topic", "two words")))
    assert ("inputs[2]", "'two words' is not a Python name") in found
    assert ("inputs", "input 'topic' is named 2 times") in found


def test_agent_named_twice_and_agent_name_not_a_name() -> None:
    genome = pipeline()
    found = problems(
        pipeline(agents=(*genome.agents, genome.agents[1], FunctionAgentSpec(name="if", function="shout")))
    )
    assert ("agents", "agent 'loud' is defined 2 times") in found
    assert ("agents[3].name", "'if' is not a Python name") in found


def test_unknown_tool() -> None:
    writer = LLMAgentSpec(name="writer", model="m", tools=("shuot",))
    genome = pipeline(agents=(writer, pipeline().agents[1]))
    assert only(genome) == (
        "agents[0].tools[0]",
        "unknown tool 'shuot': the code defines no such function (did you mean 'shout'?)",
    )


def test_unknown_function_of_a_function_agent() -> None:
    genome = pipeline(agents=(pipeline().agents[0], FunctionAgentSpec(name="loud", function="shoutt")))
    assert only(genome) == (
        "agents[1].function",
        "unknown function 'shoutt': the code defines no such function (did you mean 'shout'?)",
    )


def test_llm_agent_without_model() -> None:
    genome = pipeline(agents=(LLMAgentSpec(name="writer", model=""), pipeline().agents[1]))
    assert only(genome) == ("agents[0].model", "no model named")


# -- DAGs -------------------------------------------------------------------------------------


def test_empty_dag() -> None:
    assert only(pipeline(entry=dag())) == ("entry.tasks", "a DAG needs at least one task")


def test_unknown_agent() -> None:
    genome = pipeline(entry=dag(llm_task("draft", wire("topic", "topic"), agent="writter")))
    assert only(genome) == ("entry.tasks[0].agent", "unknown agent 'writter' (did you mean 'writer'?)")


def test_unknown_upstream_task() -> None:
    genome = pipeline(
        entry=dag(
            llm_task("draft", wire("topic", "topic")),
            TaskSpec(name="final", agent="loud", inputs=(wire("text", "drafts", task=True),)),
        )
    )
    found = problems(genome)
    assert (
        "entry.tasks[1].inputs[0].source.task",
        "unknown task 'drafts' in this DAG (did you mean 'draft'?)",
    ) in found


def test_unknown_input() -> None:
    genome = pipeline(entry=dag(llm_task("draft", wire("topic", "topik"))))
    assert only(genome) == (
        "entry.tasks[0].inputs[0].source.name",
        "unknown input 'topik': no workflow input or task output has that name (did you mean 'topic'?)",
    )


def test_parameter_wired_twice_and_not_a_name() -> None:
    genome = pipeline(
        entry=dag(llm_task("draft", wire("topic", "topic"), wire("topic", "topic"), wire("a-b", "topic")))
    )
    found = problems(genome)
    assert ("entry.tasks[0].inputs", "parameter 'topic' is wired 2 times") in found
    assert ("entry.tasks[0].inputs[2].parameter", "'a-b' is not a Python name") in found


def test_parameter_named_like_a_parameter_of_the_call_itself() -> None:
    genome = pipeline(entry=dag(llm_task("draft", wire("topic", "topic"), wire("seed", "topic"))))
    assert only(genome) == (
        "entry.tasks[0].inputs[1].parameter",
        "'seed' is a parameter of the llm call itself: rename the wire",
    )


@pytest.mark.parametrize("kind", sorted(RESERVED_PARAMETERS))
def test_reserved_parameters_are_those_of_the_called_function(kind: str) -> None:
    called = {"llm": ask, "recall": recall, "remember": remember, "request": request}[kind]
    named = inspect.signature(called).parameters.values()
    assert RESERVED_PARAMETERS[kind] == {p.name for p in named if p.kind is not p.VAR_KEYWORD}


def test_value_read_from_both_a_task_and_the_values() -> None:
    genome = pipeline(
        entry=dag(
            llm_task("draft", wire("topic", "topic")),
            llm_task("final", wire("a", "draft", task=True), wire("b", "draft")),
        )
    )
    assert (
        "entry.tasks[1].inputs[1].source",
        "reads 'draft' as a value, but upstream task 'draft' outputs a value of that name too: wire it from that task",
    ) in problems(genome)


def test_function_parameters_must_match_the_wiring() -> None:
    genome = pipeline(
        entry=dag(
            llm_task("draft", wire("topic", "topic")),
            TaskSpec(name="final", agent="loud", inputs=(wire("words", "draft", task=True),)),
        )
    )
    found = problems(genome)
    assert ("entry.tasks[1].inputs", "function 'shout' has no parameter 'words'") in found
    assert ("entry.tasks[1].inputs", "required parameter 'text' of 'shout' is not wired") in found


def test_cycle() -> None:
    genome = pipeline(
        entry=dag(
            llm_task("a", wire("x", "c", task=True)),
            llm_task("b", wire("x", "a", task=True)),
            llm_task("c", wire("x", "b", task=True)),
        )
    )
    path, what = only(genome)
    assert path == "entry.tasks"
    assert what in ("cycle: a -> b -> c -> a", "cycle: c -> a -> b -> c", "cycle: b -> c -> a -> b")


def test_a_dag_has_one_output_task() -> None:
    genome = pipeline(entry=dag(llm_task("a", wire("x", "topic")), llm_task("b", wire("x", "topic"))))
    assert only(genome) == (
        "entry.tasks",
        "a DAG has one output task, but 'a', 'b' all have no downstream task",
    )


def test_task_names_are_unique_in_the_whole_genome() -> None:
    genome = machine()
    states = list(genome.entry.states)  # type: ignore[union-attr]
    states[2] = StateSpec(
        name="done", body=dag(TaskSpec(name="yell", agent="loud", inputs=(wire("text", "text"),)))
    )
    found = problems(machine(states=tuple(states)))
    assert (
        "entry.states[2].body.tasks[0].name",
        "task name 'yell' is also used at entry.states[0].body.tasks[0]",
    ) in found


def test_outputs_of_one_dag_are_distinct_names() -> None:
    genome = pipeline(
        entry=dag(
            TaskSpec(name="a", agent="writer", inputs=(wire("x", "topic"),), output="out"),
            TaskSpec(name="b", agent="writer", inputs=(wire("x", "topic"),), output="out"),
            llm_task("c", wire("x", "a", task=True), wire("y", "b", task=True)),
        )
    )
    assert ("entry.tasks", "2 tasks of this DAG output 'out'") in problems(genome)
    bad = pipeline(entry=dag(TaskSpec(name="a", agent="writer", inputs=(wire("x", "topic"),), output="1st")))
    assert only(bad) == ("entry.tasks[0].output", "'1st' is not a Python name")


# -- machines ---------------------------------------------------------------------------------


def test_unknown_initial_state() -> None:
    assert only(machine(initial="writ")) == (
        "entry.initial",
        "unknown initial state 'writ' (did you mean 'write'?)",
    )


def test_unknown_states_in_transitions() -> None:
    genome = machine(
        transitions=(
            TransitionSpec(source="write", target="mesure"),
            TransitionSpec(source="measure", target="done", guard=CompareSpec(field="long", value=True)),
            TransitionSpec(source="measure", target="write"),
        )
    )
    found = problems(genome)
    assert ("entry.transitions[0].target", "unknown state 'mesure' (did you mean 'measure'?)") in found


def test_state_defined_twice() -> None:
    states = machine().entry.states  # type: ignore[union-attr]
    found = problems(machine(states=(*states, states[2].model_copy())))
    assert ("entry.states", "state 'done' is defined 2 times") in found


def test_unknown_predicate() -> None:
    genome = machine(
        transitions=(
            TransitionSpec(source="write", target="measure"),
            TransitionSpec(source="measure", target="done", guard=PredicateSpec(function="is_lng")),
            TransitionSpec(source="measure", target="write"),
        )
    )
    assert only(genome) == (
        "entry.transitions[1].guard.function",
        "unknown predicate 'is_lng' (did you mean 'is_long'?)",
    )


def test_unreachable_state() -> None:
    states = machine().entry.states  # type: ignore[union-attr]
    island = StateSpec(
        name="island", body=dag(TaskSpec(name="lost", agent="loud", inputs=(wire("text", "topic"),)))
    )
    assert only(machine(states=(*states, island))) == (
        "entry.states[3]",
        "state 'island' is unreachable from 'write'",
    )


def test_no_way_out() -> None:
    genome = machine(
        transitions=(
            TransitionSpec(source="write", target="measure"),
            TransitionSpec(source="measure", target="write"),
            TransitionSpec(source="done", target="done"),
        )
    )
    found = problems(genome)
    assert ("entry", "no final state: every state has an outgoing transition") in found


def test_loop_without_exit_next_to_a_final_state() -> None:
    states = machine().entry.states  # type: ignore[union-attr]
    genome = machine(
        states=states,
        transitions=(
            TransitionSpec(source="write", target="measure", guard=CompareSpec(field="x", value=1)),
            TransitionSpec(source="write", target="done"),
            TransitionSpec(source="measure", target="measure"),
        ),
    )
    assert only(genome) == ("entry.states[1]", "no way out: no final state is reachable from state 'measure'")


def test_empty_machine() -> None:
    genome = machine(states=(), transitions=())
    assert ("entry.states", "a state machine needs at least one state") in problems(genome)


def test_nested_machine_problems_carry_their_full_path() -> None:
    inner = machine(initial="nope").entry
    outer = MachineSpec(states=(StateSpec(name="inner", body=inner),), initial="inner")
    genome = machine().model_copy(update={"entry": outer})
    assert only(genome) == ("entry.states[0].body.initial", "unknown initial state 'nope'")


# -- names ------------------------------------------------------------------------------------


def test_agent_and_code_name_clash() -> None:
    genome = pipeline(agents=(pipeline().agents[0], FunctionAgentSpec(name="count", function="shout")))
    found = problems(
        genome.model_copy(
            update={
                "entry": dag(
                    llm_task("draft", wire("topic", "topic")),
                    TaskSpec(name="final", agent="count", inputs=(wire("text", "draft", task=True),)),
                )
            }
        )
    )
    assert ("names", "'count' is used as an agent and as a name in the code") in found


def test_task_named_like_a_name_the_export_uses() -> None:
    genome = pipeline(entry=dag(llm_task("workflow", wire("topic", "topic"))))
    assert ("names", "'workflow' is used as a name the exported module uses and as a task") in problems(
        genome
    )


def test_value_named_like_an_agent() -> None:
    genome = pipeline(inputs=("writer",), entry=dag(llm_task("draft", wire("topic", "writer"))))
    assert ("names", "'writer' is an input or task output and also an agent") in problems(genome)
