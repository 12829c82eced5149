"""Layout of flows in exported code: DAGs as ``>>`` chains, machines as ``StateMachine`` data."""

from __future__ import annotations

import itertools

from evoforum.codegen._layout import (
    Atom,
    Chain,
    Item,
    Node,
    Seq,
    Str,
    Suffixed,
    call,
    flat,
    literal,
    string,
)
from evoforum.genome import (
    AlwaysSpec,
    CompareSpec,
    DagSpec,
    FromInputSpec,
    FromTaskSpec,
    GuardSpec,
    MachineSpec,
    PredicateSpec,
)


def dag_edges(dag: DagSpec) -> list[tuple[str, str]]:
    """The edges of ``dag`` (upstream, downstream), from its wiring, without repeats."""
    edges: dict[tuple[str, str], None] = {}
    for task in dag.tasks:
        for wire in task.inputs:
            if isinstance(wire.source, FromTaskSpec):
                edges[(wire.source.task, task.name)] = None
    return list(edges)


def _names(names: list[str]) -> Node:
    return Atom(names[0]) if len(names) == 1 else Seq("[", [Item(Atom(n)) for n in names], "]")


def _layers(dag: DagSpec, edges: list[tuple[str, str]]) -> list[list[str]] | None:
    """The tasks in layers when every task of a layer feeds every task of the next (and only them)."""
    depth: dict[str, int] = {}
    names = [task.name for task in dag.tasks]

    def level(name: str) -> int:
        if name not in depth:
            depth[name] = 1 + max((level(u) for u, v in edges if v == name), default=-1)
        return depth[name]

    layers: list[list[str]] = [[] for _ in range(1 + max(level(n) for n in names))]
    for name in names:
        layers[depth[name]].append(name)
    complete = {(u, v) for upper, lower in itertools.pairwise(layers) for u in upper for v in lower}
    return layers if complete == set(edges) else None


def dag_node(dag: DagSpec) -> Node:
    """The ``>>`` expression of ``dag``, with ``.build(inputs=[…])`` when a task that has upstream
    tasks also reads values (``evoforum.flow`` asks for those to be declared)."""
    node = _graph_node(dag)
    wired = {v for _, v in dag_edges(dag)}
    declared: dict[str, None] = {}
    for task in dag.tasks:
        if task.name in wired:
            declared.update((w.source.name, None) for w in task.inputs if isinstance(w.source, FromInputSpec))
    if not declared:
        return node
    return Suffixed(node, f".build(inputs={flat(literal(list(declared)))})")


def needs_dag_call(dag: DagSpec) -> bool:
    """Whether ``dag`` is written as ``dag(chain, chain, …)`` (it is not one chain)."""
    return isinstance(_graph_node(dag), Seq)


def _graph_node(dag: DagSpec) -> Node:
    """``a >> [b, c] >> d`` when the DAG is layered, else ``dag(chain, chain, …)``."""
    edges = dag_edges(dag)
    if not edges:
        return Atom(dag.tasks[0].name)
    layers = _layers(dag, edges)
    if layers is not None:
        return Chain([_names(layer) for layer in layers])
    chains: list[Node] = []
    unused = list(edges)
    for start in _topological(dag, edges):
        parts: list[Node] = [Atom(start)]
        current = start
        targets = [v for u, v in unused if u == current]
        while targets:
            unused = [(u, v) for u, v in unused if u != current]
            parts.append(_names(targets))
            current = targets[0]
            targets = [v for u, v in unused if u == current] if len(targets) == 1 else []
        if len(parts) > 1:
            chains.append(Chain(parts))
    if len(chains) == 1:
        return chains[0]
    return call("dag", [Item(chain) for chain in chains])


def _guard(guard: GuardSpec) -> Node | None:
    if isinstance(guard, AlwaysSpec):
        return None
    if isinstance(guard, PredicateSpec):
        return Atom(guard.function)
    assert isinstance(guard, CompareSpec)
    args = [Item(literal(guard.field), "field=")] if guard.field is not None else []
    args += [Item(Str(guard.op), "op="), Item(literal(guard.value), "value=")]
    return call("CompareSpec", args)


def body_node(body: DagSpec | MachineSpec) -> Node:
    """The node of a state's body."""
    return dag_node(body) if isinstance(body, DagSpec) else machine_node(body)


def machine_node(machine: MachineSpec) -> Node:
    """``StateMachine(states={…}, transitions=[Transition(…), …], initial=…, max_steps=…)``."""
    states = [Item(body_node(s.body), f"{string(s.name)}: ") for s in machine.states]
    transitions = []
    for transition in machine.transitions:
        parts = [Item(Str(transition.source)), Item(Str(transition.target))]
        guard = _guard(transition.guard)
        if guard is not None:
            parts.append(Item(guard, "when="))
        transitions.append(Item(call("Transition", parts)))
    args = [
        Item(Seq("{", states, "}", always_break=True), "states="),
        Item(Seq("[", transitions, "]", always_break=bool(transitions)), "transitions="),
        Item(Str(machine.initial), "initial="),
        Item(Atom(str(machine.max_steps)), "max_steps="),
    ]
    return call("StateMachine", args, always_break=True)


def _topological(dag: DagSpec, edges: list[tuple[str, str]]) -> list[str]:
    """Task names, upstream before downstream, otherwise in the DAG's order."""
    done: list[str] = []
    pending = [task.name for task in dag.tasks]
    while pending:
        ready = next(n for n in pending if all(u in done for u, v in edges if v == n))
        done.append(ready)
        pending.remove(ready)
    return done
