"""Reading ``workflow = …``: ``>>`` DAGs, ``dag(…)``, ``.build(inputs=…)`` and ``StateMachine`` calls."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst
from pydantic import ValidationError

from evoforum.codegen._read import Rejected, callee, keywords, literal, text
from evoforum.genome import (
    AlwaysSpec,
    CompareSpec,
    DagSpec,
    FromInputSpec,
    FromTaskSpec,
    GuardSpec,
    MachineSpec,
    PredicateSpec,
    StateSpec,
    TaskSpec,
    TransitionSpec,
    WireSpec,
)
from evoforum.genome.flows import ExecutorName

MACHINE_ARGS = ["states", "transitions", "initial", "max_steps"]
COMPARE_ARGS = ["field", "op", "value"]


@dataclass
class RawTask:
    """A ``@task`` function as written: its wires name their sources by parameter name."""

    name: str
    agent: str
    executor: ExecutorName
    output: str | None
    node: cst.FunctionDef
    wires: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(agent parameter, task parameter it reads, field of it or None)."""

    @property
    def output_name(self) -> str:
        return self.output if self.output is not None else self.name


class FlowReader:
    """Builds DAG and machine specs from expressions; every task must be used exactly once."""

    def __init__(self, tasks: dict[str, RawTask]) -> None:
        self.tasks = tasks
        self.used: set[str] = set()

    def body(self, node: cst.BaseExpression) -> DagSpec | MachineSpec:
        if isinstance(node, cst.Call) and callee(node) == "StateMachine":
            return self.machine(node)
        return self.dag(node)

    # -- DAGs ----------------------------------------------------------------------------------

    def dag(self, node: cst.BaseExpression) -> DagSpec:
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "build"
        ):
            declared = keywords(node, ["inputs"], ".build()")
            if "inputs" in declared and not isinstance(literal(declared["inputs"]), list | tuple):
                raise Rejected(declared["inputs"], "inputs= must be a list of value names")
            node = node.func.value
        nodes: dict[str, None] = {}
        edges: set[tuple[str, str]] = set()
        self._chain(node, nodes, edges)
        for task in nodes:
            if task in self.used:
                raise Rejected(node, f"task {task!r} is used in more than one place of the workflow")
            self.used.add(task)
        return DagSpec(tasks=tuple(self._resolve(self.tasks[n], edges) for n in self.tasks if n in nodes))

    def _resolve(self, raw: RawTask, edges: set[tuple[str, str]]) -> TaskSpec:
        parents = {self.tasks[u].output_name: u for u, v in edges if v == raw.name}
        wires, read = [], set()
        for parameter, source, key in raw.wires:
            if source in parents:
                read.add(parents[source])
                wires.append(
                    WireSpec(parameter=parameter, source=FromTaskSpec(task=parents[source], field=key))
                )
            elif key is not None:
                raise Rejected(raw.node, f"{source}[{key!r}]: only an upstream task's output can be indexed")
            else:
                wires.append(WireSpec(parameter=parameter, source=FromInputSpec(name=source)))
        for output, parent in sorted(parents.items()):
            if parent not in read:
                raise Rejected(
                    raw.node,
                    f"task {raw.name!r} comes after {parent!r} (>>) but has no parameter {output!r} to read its output",
                )
        return TaskSpec(
            name=raw.name, agent=raw.agent, inputs=tuple(wires), executor=raw.executor, output=raw.output
        )

    def _chain(
        self, node: cst.BaseExpression, nodes: dict[str, None], edges: set[tuple[str, str]]
    ) -> tuple[list[str], list[str]]:
        """Adds the tasks and edges of ``node``; returns its heads and tails."""
        if isinstance(node, cst.Name):
            if node.value not in self.tasks:
                raise Rejected(node, f"{node.value!r} is not a @task function of this module")
            nodes[node.value] = None
            return [node.value], [node.value]
        if isinstance(node, cst.List):
            heads, tails = [], []
            for element in node.elements:
                h, t = self._chain(element.value, nodes, edges)
                heads += h
                tails += t
            return heads, tails
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.RightShift):
            heads, left_tails = self._chain(node.left, nodes, edges)
            right_heads, tails = self._chain(node.right, nodes, edges)
            edges.update((u, v) for u in left_tails for v in right_heads)
            return heads, tails
        if isinstance(node, cst.Call) and callee(node) == "dag":
            for arg in node.args:
                if arg.keyword is not None or arg.star:
                    raise Rejected(arg, "dag() takes tasks and >> chains only")
                self._chain(arg.value, nodes, edges)
            targets = {v for _, v in edges}
            sources = {u for u, _ in edges}
            return [n for n in nodes if n not in targets], [n for n in nodes if n not in sources]
        raise Rejected(node, "expected a task, a list of tasks, an `a >> b` chain or dag(chain, ...)")

    # -- machines ------------------------------------------------------------------------------

    def machine(self, call: cst.Call) -> MachineSpec:
        args = keywords(call, MACHINE_ARGS, "StateMachine")
        for required in ("states", "initial"):
            if required not in args:
                raise Rejected(call, f"StateMachine needs {required}=")
        states_node = args["states"]
        if not isinstance(states_node, cst.Dict):
            raise Rejected(states_node, "states= must be a dict of state name to flow")
        states = []
        for element in states_node.elements:
            if not isinstance(element, cst.DictElement):
                raise Rejected(element, "expected 'state name': flow")
            states.append(StateSpec(name=text(element.key, "a state name"), body=self.body(element.value)))
        transitions = []
        if "transitions" in args:
            node = args["transitions"]
            if not isinstance(node, cst.List | cst.Tuple):
                raise Rejected(node, "transitions= must be a list of Transition(...)")
            transitions = [self._transition(e.value) for e in node.elements if isinstance(e, cst.Element)]
        limit = {"max_steps": literal(args["max_steps"])} if "max_steps" in args else {}
        try:
            return MachineSpec(
                states=tuple(states),
                transitions=tuple(transitions),
                initial=text(args["initial"], "the initial state"),
                **limit,
            )
        except ValidationError as error:
            raise Rejected(call, f"not a valid StateMachine: {error.errors()[0]['msg']}") from None

    def _transition(self, node: cst.BaseExpression) -> TransitionSpec:
        if not isinstance(node, cst.Call) or callee(node) != "Transition":
            raise Rejected(
                node, "expected Transition(source, target) or Transition(source, target, when=...)"
            )
        positional = [arg.value for arg in node.args if arg.keyword is None]
        if len(positional) != 2:
            raise Rejected(node, "Transition takes the source and target state names")
        when = None
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value != "when":
                raise Rejected(arg, f"Transition has no argument {arg.keyword.value!r} here (only when=)")
            if arg.keyword is not None:
                when = arg.value
        guard: GuardSpec = AlwaysSpec()
        if isinstance(when, cst.Name) and when.value != "None":
            guard = PredicateSpec(function=when.value)
        elif isinstance(when, cst.Call) and callee(when) == "CompareSpec":
            values = {
                key: literal(value) for key, value in keywords(when, COMPARE_ARGS, "CompareSpec").items()
            }
            try:
                guard = CompareSpec.model_validate(values)
            except ValidationError as error:
                raise Rejected(when, f"not a valid guard: {error.errors()[0]['msg']}") from None
        elif when is not None and not (isinstance(when, cst.Name) and when.value == "None"):
            raise Rejected(
                when, "when= takes CompareSpec(field=..., op=..., value=...) or a predicate function"
            )
        source, target = (text(p, "a state name") for p in positional)
        return TransitionSpec(source=source, target=target, guard=guard)
