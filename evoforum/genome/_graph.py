"""Structural checks of DAGs and state machines (used by ``validate``)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from evoforum.errors import did_you_mean
from evoforum.genome._code import CodeFacts, is_name
from evoforum.genome.agents import FunctionAgentSpec, RecallSpec, RememberSpec, RequestSpec
from evoforum.genome.flows import (
    DagSpec,
    FromInputSpec,
    FromTaskSpec,
    MachineSpec,
    PredicateSpec,
    TaskSpec,
    walk,
)
from evoforum.graphs import find_cycle, reachable

if TYPE_CHECKING:
    from evoforum.genome.model import WorkflowGenome


RESERVED_PARAMETERS: dict[str, frozenset[str]] = {
    "llm": frozenset({"llm", "agent", "seed"}),
    "recall": frozenset({"memory", "embedder", "spec"}),
    "remember": frozenset({"memory", "embedder", "spec"}),
    "request": frozenset({"bus", "llm", "spec", "responder", "forum", "seed"}),
}
"""Per agent kind, the parameter names of the function its task calls (``ask``, ``recall``,
``remember``, ``request``) besides the task's values: a wire of that name would pass one argument
twice in the exported module."""


def output_names(body: DagSpec | MachineSpec) -> set[str]:
    """The output names of every task in ``body``."""
    return {task.output_name for _, part in walk(body) if isinstance(part, DagSpec) for task in part.tasks}


class FlowChecker:
    """Walks the entry flow, appending problems; remembers task names and context keys."""

    def __init__(self, genome: WorkflowGenome, facts: CodeFacts, problems: list[tuple[str, str]]) -> None:
        self.genome = genome
        self.facts = facts
        self.problems = problems
        self.task_names: list[str] = []
        self.context_keys: set[str] = set(genome.inputs) | output_names(genome.entry)
        self._task_paths: dict[str, str] = {}

    def add(self, path: str, what: str) -> None:
        self.problems.append((path, what))

    def check(self, body: DagSpec | MachineSpec, path: str) -> None:
        if isinstance(body, DagSpec):
            self._dag(body, path)
        else:
            self._machine(body, path)

    # -- DAGs ----------------------------------------------------------------------------------

    def _dag(self, dag: DagSpec, path: str) -> None:
        if not dag.tasks:
            self.add(f"{path}.tasks", "a DAG needs at least one task")
            return
        names = [task.name for task in dag.tasks]
        outputs = {task.name: task.output_name for task in dag.tasks}
        for index, task in enumerate(dag.tasks):
            self._task(task, names, outputs, f"{path}.tasks[{index}]")
        for name, count in Counter(task.output_name for task in dag.tasks).items():
            if count > 1:
                self.add(f"{path}.tasks", f"{count} tasks of this DAG output {name!r}")
        for name, count in Counter(names).items():
            if count > 1:
                self.add(f"{path}.tasks", f"task {name!r} is defined {count} times in this DAG")
        upstream = {
            task.name: [w.source.task for w in task.inputs if isinstance(w.source, FromTaskSpec)]
            for task in dag.tasks
        }
        cycle = _downstream_cycle(upstream)
        if cycle:
            self.add(f"{path}.tasks", "cycle: " + " -> ".join(cycle))
        read = {source for sources in upstream.values() for source in sources}
        sinks = [name for name in dict.fromkeys(names) if name not in read]
        if len(sinks) > 1 and not cycle:
            self.add(
                f"{path}.tasks",
                f"a DAG has one output task, but {', '.join(map(repr, sinks))} all have no downstream task",
            )

    def _task(self, task: TaskSpec, dag_names: list[str], outputs: dict[str, str], path: str) -> None:
        if not is_name(task.name):
            self.add(f"{path}.name", f"{task.name!r} is not a Python name")
        if task.name in self._task_paths:
            self.add(f"{path}.name", f"task name {task.name!r} is also used at {self._task_paths[task.name]}")
        else:
            self._task_paths[task.name] = path
            self.task_names.append(task.name)
        if task.output is not None and not is_name(task.output):
            self.add(f"{path}.output", f"{task.output!r} is not a Python name")
        agent = self.genome.agent(task.agent)
        if agent is None:
            known = [a.name for a in self.genome.agents]
            self.add(f"{path}.agent", f"unknown agent {task.agent!r}{did_you_mean(task.agent, known)}")
        for name, count in Counter(w.parameter for w in task.inputs).items():
            if count > 1:
                self.add(f"{path}.inputs", f"parameter {name!r} is wired {count} times")
        parents = {
            outputs[w.source.task]: w.source.task
            for w in task.inputs
            if isinstance(w.source, FromTaskSpec) and w.source.task in outputs
        }
        for index, wire in enumerate(task.inputs):
            where = f"{path}.inputs[{index}]"
            if not is_name(wire.parameter):
                self.add(f"{where}.parameter", f"{wire.parameter!r} is not a Python name")
            elif agent is not None and wire.parameter in RESERVED_PARAMETERS.get(agent.kind, ()):
                self.add(
                    f"{where}.parameter",
                    f"{wire.parameter!r} is a parameter of the {agent.kind} call itself: rename the wire",
                )
            source = wire.source
            if isinstance(source, FromTaskSpec) and source.task not in dag_names:
                hint = did_you_mean(source.task, dag_names)
                self.add(f"{where}.source.task", f"unknown task {source.task!r} in this DAG{hint}")
            elif isinstance(source, FromInputSpec) and source.name in parents:
                self.add(
                    f"{where}.source",
                    f"reads {source.name!r} as a value, but upstream task {parents[source.name]!r}"
                    " outputs a value of that name too: wire it from that task",
                )
            elif isinstance(source, FromInputSpec) and source.name not in self.context_keys:
                hint = did_you_mean(source.name, sorted(self.context_keys))
                self.add(
                    f"{where}.source.name",
                    f"unknown input {source.name!r}: no workflow input or task output has that name{hint}",
                )
        if isinstance(agent, FunctionAgentSpec):
            self._signature(task, agent, path)
        elif isinstance(agent, RecallSpec | RememberSpec | RequestSpec):
            self._runtime_inputs(task, agent, path)

    def _runtime_inputs(
        self, task: TaskSpec, agent: RecallSpec | RememberSpec | RequestSpec, path: str
    ) -> None:
        """The wiring a memory or dialogue task needs: a recall one query, a remember its key,
        a request exactly its subject's fields."""
        wired = [w.parameter for w in task.inputs]
        if isinstance(agent, RecallSpec) and len(wired) != 1:
            self.add(
                f"{path}.inputs", f"recall {agent.name!r} takes one input, the query; {len(wired)} are wired"
            )
        elif isinstance(agent, RememberSpec) and agent.key not in wired:
            self.add(f"{path}.inputs", f"remember {agent.name!r} stores by {agent.key!r}, which is not wired")
        elif isinstance(agent, RequestSpec) and sorted(wired) != sorted(agent.fields):
            fields = ", ".join(agent.fields)
            self.add(
                f"{path}.inputs",
                f"request {agent.name!r} on {agent.subject!r} sends the fields ({fields}); wired: {', '.join(wired)}",
            )

    def _signature(self, task: TaskSpec, agent: FunctionAgentSpec, path: str) -> None:
        signature = self.facts.functions.get(agent.function)
        if signature is None:
            return
        wired = {w.parameter for w in task.inputs}
        if not signature.variadic:
            for name in sorted(wired - set(signature.parameters)):
                self.add(f"{path}.inputs", f"function {agent.function!r} has no parameter {name!r}")
        for name in sorted(signature.required - wired):
            self.add(f"{path}.inputs", f"required parameter {name!r} of {agent.function!r} is not wired")

    # -- machines ------------------------------------------------------------------------------

    def _machine(self, machine: MachineSpec, path: str) -> None:
        names = [state.name for state in machine.states]
        if not names:
            self.add(f"{path}.states", "a state machine needs at least one state")
            return
        for name, count in Counter(names).items():
            if count > 1:
                self.add(f"{path}.states", f"state {name!r} is defined {count} times")
        known = set(names)
        for index, state in enumerate(machine.states):
            self.check(state.body, f"{path}.states[{index}].body")

        def unknown(name: str, where: str, role: str) -> bool:
            if name in known:
                return False
            self.add(where, f"unknown {role} {name!r}{did_you_mean(name, names)}")
            return True

        unknown(machine.initial, f"{path}.initial", "initial state")
        if not machine.final:
            self.add(path, "no final state: every state has an outgoing transition")
        edges: dict[str, list[str]] = {name: [] for name in names}
        for index, transition in enumerate(machine.transitions):
            where = f"{path}.transitions[{index}]"
            bad = unknown(transition.source, f"{where}.source", "state")
            bad = unknown(transition.target, f"{where}.target", "state") or bad
            guard = transition.guard
            if (
                isinstance(guard, PredicateSpec)
                and self.facts.error is None
                and guard.function not in self.facts.functions
            ):
                hint = did_you_mean(guard.function, sorted(self.facts.functions))
                self.add(f"{where}.guard.function", f"unknown predicate {guard.function!r}{hint}")
            if not bad:
                edges[transition.source].append(transition.target)
        if machine.initial in known and machine.final:
            self._reachability(machine, edges, path)

    def _reachability(self, machine: MachineSpec, edges: dict[str, list[str]], path: str) -> None:
        forward = reachable([machine.initial], edges)
        backwards: dict[str, list[str]] = {name: [] for name in edges}
        for source, targets in edges.items():
            for target in targets:
                backwards[target].append(source)
        finals = [name for name in machine.final if name in edges]
        can_finish = reachable(finals, backwards)
        for index, state in enumerate(machine.states):
            if state.name not in forward:
                self.add(
                    f"{path}.states[{index}]", f"state {state.name!r} is unreachable from {machine.initial!r}"
                )
            elif state.name not in can_finish:
                self.add(
                    f"{path}.states[{index}]",
                    f"no way out: no final state is reachable from state {state.name!r}",
                )


def _downstream_cycle(upstream: dict[str, list[str]]) -> list[str]:
    """One cycle of a DAG given by each task's upstream tasks, in the direction data flows
    (first name repeated at the end), or [] when there is none."""
    against = find_cycle(upstream)
    order = against[:-1][::-1]
    return [*order, order[0]] if order else []
