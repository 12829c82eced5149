"""Flow specs: task DAGs and hierarchical state machines, as data.

Data flow (the same as ``evoforum.flow``'s). A run keeps one dictionary of named *values*,
started from the workflow inputs; after a DAG ran, every task's output is written into it under
the task's output name (its name unless ``output`` says otherwise). Inside a DAG a task parameter
is wired either to an upstream task's output (optionally one field of it) or to a value
(``FromInputSpec``: a workflow input or an output of a task in another state). A DAG's output is the
output of its one sink task; a machine's output is the output of the final state it ended in.

Transitions are tried in order; the first whose source is the current state and whose guard holds
on the state's output is taken. A state without outgoing transitions is final.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from evoforum.genome._base import Frozen

ExecutorName = Literal["asyncio", "process", "ray"]
Scalar = str | int | float | bool | None


class FromTaskSpec(Frozen):
    """The output of an upstream task in the same DAG, or one field of it."""

    kind: Literal["task"] = "task"
    task: str
    field: str | None = None


class FromInputSpec(Frozen):
    """A workflow input, or a value a state wrote into the machine's context."""

    kind: Literal["input"] = "input"
    name: str


SourceSpec = Annotated[FromTaskSpec | FromInputSpec, Field(discriminator="kind")]


class WireSpec(Frozen):
    """Feeds ``source`` into the agent parameter ``parameter``."""

    parameter: str
    source: SourceSpec


class TaskSpec(Frozen):
    """One task: an agent called with its wired inputs, on an executor."""

    name: str
    agent: str
    inputs: tuple[WireSpec, ...] = ()
    executor: ExecutorName = "asyncio"
    output: str | None = None

    @property
    def output_name(self) -> str:
        """The name the output is published under: ``output``, else the task's name."""
        return self.output if self.output is not None else self.name


class DagSpec(Frozen):
    """Tasks whose edges follow their ``FromTaskSpec`` wiring; exactly one sink gives the output."""

    kind: Literal["dag"] = "dag"
    tasks: tuple[TaskSpec, ...]


Op = Literal["==", "!=", "<", "<=", ">", ">=", "contains"]


class AlwaysSpec(Frozen):
    """A guard that always holds."""

    kind: Literal["always"] = "always"


class CompareSpec(Frozen):
    """``output[field] <op> value`` (the whole output when ``field`` is None; dots go deeper)."""

    kind: Literal["compare"] = "compare"
    field: str | None = None
    op: Op = "=="
    value: Scalar = None

    def __call__(self, output: Any) -> bool:
        """Whether the guard holds on ``output`` (False when the field is missing or types clash)."""
        found = output
        for part in self.field.split(".") if self.field else ():
            if isinstance(found, Mapping) and part in found:
                found = found[part]
            elif hasattr(found, part):
                found = getattr(found, part)
            else:
                return False
        try:
            return bool(_OPS[self.op](found, self.value))
        except TypeError:
            return False


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "contains": lambda found, value: value in found,
}


class PredicateSpec(Frozen):
    """A function of the genome's code, called with the state's output, returning a bool."""

    kind: Literal["predicate"] = "predicate"
    function: str


GuardSpec = Annotated[AlwaysSpec | CompareSpec | PredicateSpec, Field(discriminator="kind")]


class TransitionSpec(Frozen):
    """From ``source`` to ``target`` when ``guard`` holds on the source state's output."""

    source: str
    target: str
    guard: GuardSpec = Field(default_factory=AlwaysSpec)


class StateSpec(Frozen):
    """A state: a DAG or a nested machine."""

    name: str
    body: Annotated[DagSpec | MachineSpec, Field(discriminator="kind")]


class MachineSpec(Frozen):
    """A state machine: states, guarded transitions, an initial state and a step limit.

    Final states are the states without outgoing transitions (``final``). ``max_steps`` is the
    step limit of ``evoforum.flow.StateMachine`` with the same default; in JSON (and so in the
    genome hash) it is written ``step_limit``, and either key is read.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    kind: Literal["machine"] = "machine"
    states: tuple[StateSpec, ...]
    transitions: tuple[TransitionSpec, ...] = ()
    initial: str
    max_steps: int = Field(default=20, ge=1, alias="step_limit")

    @property
    def final(self) -> tuple[str, ...]:
        """The states no transition leaves, in state order."""
        sources = {transition.source for transition in self.transitions}
        return tuple(state.name for state in self.states if state.name not in sources)


BodySpec = Annotated[DagSpec | MachineSpec, Field(discriminator="kind")]

StateSpec.model_rebuild()


Trail = tuple[int, ...]
"""A position in a body: the state indices leading to a part (``()`` is the body itself)."""


def bodies(body: DagSpec | MachineSpec, trail: Trail = ()) -> Iterator[tuple[Trail, DagSpec | MachineSpec]]:
    """Every DAG and machine in ``body`` (itself first, then depth-first) with its trail."""
    yield trail, body
    if isinstance(body, MachineSpec):
        for index, state in enumerate(body.states):
            yield from bodies(state.body, (*trail, index))


def walk(body: DagSpec | MachineSpec, path: str = "entry") -> list[tuple[str, DagSpec | MachineSpec]]:
    """Every DAG and machine in ``body`` (itself first, then depth-first) with its path."""
    return [(path + "".join(f".states[{i}].body" for i in trail), part) for trail, part in bodies(body)]


def state_names(body: DagSpec | MachineSpec, trail: Trail) -> tuple[str, ...]:
    """The names of the states that ``trail`` (see ``bodies``) passes through, outermost first."""
    names = []
    for index in trail:
        assert isinstance(body, MachineSpec)
        state = body.states[index]
        names.append(state.name)
        body = state.body
    return tuple(names)


def replaced(body: DagSpec | MachineSpec, trail: Trail, new: DagSpec | MachineSpec) -> DagSpec | MachineSpec:
    """``body`` with the part at ``trail`` (see ``bodies``) replaced by ``new``."""
    if not trail:
        return new
    assert isinstance(body, MachineSpec)
    states = list(body.states)
    state = states[trail[0]]
    states[trail[0]] = StateSpec(name=state.name, body=replaced(state.body, trail[1:], new))
    return body.model_copy(update={"states": tuple(states)})
