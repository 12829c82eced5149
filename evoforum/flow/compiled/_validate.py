"""Build-time checks of a flow and its precomputed topology (wiring, order, in-degrees)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from evoforum.errors import FlowInvalid
from evoforum.flow._signature import Port
from evoforum.flow._types import concrete, describe, fits
from evoforum.graphs import find_cycle

if TYPE_CHECKING:
    from evoforum.flow.task import Flow, Task

Problems = list[tuple[str, str]]


@dataclasses.dataclass(frozen=True)
class Topology:
    """Everything the scheduler needs, indexed by task position."""

    tasks: tuple[Task[Any], ...]
    parents: tuple[tuple[int, ...], ...]
    children: tuple[tuple[int, ...], ...]
    indegree: tuple[int, ...]
    order: tuple[int, ...]
    bindings: tuple[tuple[tuple[str, int], ...], ...]
    free: tuple[tuple[Port, ...], ...]
    inputs: dict[str, Any]
    leaves: tuple[int, ...]


def analyze(flow: Flow, declared: frozenset[str]) -> Topology:
    """The flow's topology, or ``FlowInvalid`` listing every problem with where it is."""
    problems: Problems = []
    tasks = flow.tasks
    _check_names(tasks, problems)
    index = {t: i for i, t in enumerate(tasks)}
    parents: list[list[int]] = [[] for _ in tasks]
    children: list[list[int]] = [[] for _ in tasks]
    for parent, child in flow.edges:
        parents[index[child]].append(index[parent])
        children[index[parent]].append(index[child])
    order = _order(tasks, parents, children, problems)
    bindings, free = [], []
    for i, t in enumerate(tasks):
        bound, unbound = _wire(t, [tasks[p] for p in parents[i]], problems)
        bindings.append(tuple((param, index[source]) for param, source in bound))
        free.append(unbound)
    inputs = _flow_inputs(tasks, parents, free, declared, problems)
    if not tasks:
        problems.append(("", "the flow has no tasks"))
    if problems:
        raise FlowInvalid("flow", problems)
    return Topology(
        tasks=tasks,
        parents=tuple(tuple(p) for p in parents),
        children=tuple(tuple(c) for c in children),
        indegree=tuple(len(p) for p in parents),
        order=order,
        bindings=tuple(bindings),
        free=tuple(free),
        inputs=inputs,
        leaves=tuple(i for i, c in enumerate(children) if not c),
    )


def _check_names(tasks: Sequence[Task[Any]], problems: Problems) -> None:
    seen: dict[str, Task[Any]] = {}
    for t in tasks:
        if t.name in seen:
            problems.append((f"tasks.{t.name}", "two different tasks have this name; rename one (.named())"))
        seen[t.name] = t
        error = t.signature_problem()
        if error:
            problems.append((f"tasks.{t.name}", error))


def _order(
    tasks: Sequence[Task[Any]], parents: list[list[int]], children: list[list[int]], problems: Problems
) -> tuple[int, ...]:
    remaining = [len(p) for p in parents]
    order = [i for i, n in enumerate(remaining) if n == 0]
    for i in order:
        for c in children[i]:
            remaining[c] -= 1
            if remaining[c] == 0:
                order.append(c)
    if len(order) < len(tasks):
        stuck = {i for i, n in enumerate(remaining) if n > 0}
        on_cycle: set[int] = set()
        edges = {i: [c for c in children[i] if c in stuck] for i in sorted(stuck)}
        while cycle := find_cycle(edges):
            on_cycle.update(cycle)
            path = " -> ".join(tasks[i].name for i in cycle)
            problems.append((f"tasks.{tasks[cycle[0]].name}", f"cycle: {path}"))
            edges = {
                i: [c for c in out if c not in on_cycle] for i, out in edges.items() if i not in on_cycle
            }
        for i in sorted(stuck - on_cycle):
            problems.append((f"tasks.{tasks[i].name}", "unreachable: it is only reachable through a cycle"))
    return tuple(order)


def _wire(
    t: Task[Any], parents: Sequence[Task[Any]], problems: Problems
) -> tuple[list[tuple[str, Task[Any]]], tuple[Port, ...]]:
    if t.signature_problem():
        return [], ()
    bound: list[tuple[str, Task[Any]]] = []
    unbound: list[Port] = []
    used: set[Task[Any]] = set()
    for port in t.signature.inputs:
        named = [p for p in parents if p.output_name == port.name]
        if len(named) > 1:
            names = ", ".join(p.name for p in named)
            problems.append((f"tasks.{t.name}.{port.name}", f"several parents give {port.name!r}: {names}"))
        if named:
            used.add(named[0])
            bound.append((port.name, named[0]))
            _check_type(t, port, named[0], problems)
        else:
            unbound.append(port)
    still: list[Port] = []
    for port in unbound:
        typed = [
            p
            for p in parents
            if p not in used
            and not p.signature_problem()
            and concrete(p.signature.output)
            and fits(p.signature.output, port.annotation)
        ]
        if len(typed) == 1:
            used.add(typed[0])
            bound.append((port.name, typed[0]))
        else:
            still.append(port)
    return bound, tuple(still)


def _check_type(t: Task[Any], port: Port, parent: Task[Any], problems: Problems) -> None:
    if parent.signature_problem():
        return
    given = parent.signature.output
    if not fits(given, port.annotation):
        problems.append(
            (
                f"tasks.{t.name}.{port.name}",
                f"expects {describe(port.annotation)} but parent {parent.name!r} gives {describe(given)}",
            )
        )


def _flow_inputs(
    tasks: Sequence[Task[Any]],
    parents: list[list[int]],
    free: list[tuple[Port, ...]],
    declared: frozenset[str],
    problems: Problems,
) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for i, t in enumerate(tasks):
        for port in free[i]:
            if parents[i] and port.required and port.name not in declared:
                names = ", ".join(tasks[p].name for p in parents[i])
                problems.append(
                    (
                        f"tasks.{t.name}.{port.name}",
                        f"missing input: no parent ({names}) gives {port.name!r} "
                        f"({describe(port.annotation)}); rename a parent's output or declare it "
                        "with build(inputs=[...])",
                    )
                )
                continue
            known = inputs.get(port.name)
            if known is not None and not (fits(known, port.annotation) or fits(port.annotation, known)):
                problems.append(
                    (
                        f"tasks.{t.name}.{port.name}",
                        f"flow input {port.name!r} is {describe(known)} elsewhere but "
                        f"{describe(port.annotation)} here",
                    )
                )
            inputs.setdefault(port.name, port.annotation)
    for name in sorted(declared - inputs.keys()):
        problems.append((f"inputs.{name}", "declared as a flow input, but no task takes it"))
    return inputs
