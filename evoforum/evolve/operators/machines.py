"""Mutation of state machines: states duplicated or removed, transitions retargeted or dropped."""

from __future__ import annotations

import random
from collections.abc import Sequence

from evoforum.evolve.operators import _edit as e
from evoforum.evolve.operators.base import Children, operator
from evoforum.evolve.operators.context import OperatorContext
from evoforum.genome import CompareSpec, DagSpec, MachineSpec, StateSpec, TransitionSpec, WorkflowGenome
from evoforum.genome.edits import used_names
from evoforum.graphs import reachable


def _renamed(dag: DagSpec, taken: set[str]) -> DagSpec:
    """A copy of ``dag`` with fresh task names that still publishes the same output names."""
    names = {t.name: e.fresh(t.name, taken) for t in dag.tasks}
    tasks = []
    for task in dag.tasks:
        for old, new in names.items():
            task = e.rewired(task, old, new)
        tasks.append(task.model_copy(update={"name": names[task.name], "output": task.output_name}))
    return DagSpec(tasks=tuple(tasks))


@operator("mut_add_state")
def mut_add_state(
    parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext
) -> Children:
    """A state (a DAG) is duplicated as a second attempt that leaves the way the original does:
    one of several transitions into the state now enters the copy, or (with one way in) the
    original gets a last transition to the copy."""
    genome = parents[0]
    sites = [
        (trail, m, s)
        for trail, m in e.machines(genome)
        for s in m.states
        if isinstance(s.body, DagSpec) and any(t.target == s.name for t in m.transitions)
    ]
    site = e.choose(rng, sites)
    if site is None:
        return []
    trail, machine, state = site
    taken = used_names(genome)
    assert isinstance(state.body, DagSpec)
    copy = StateSpec(name=e.fresh(f"{state.name}_again", taken), body=_renamed(state.body, taken))
    incoming = [i for i, t in enumerate(machine.transitions) if t.target == state.name]
    transitions = list(machine.transitions)
    if len(incoming) > 1:
        redirect = incoming[rng.randrange(len(incoming))]
        transitions[redirect] = transitions[redirect].model_copy(update={"target": copy.name})
    else:
        transitions.append(TransitionSpec(source=state.name, target=copy.name))
    transitions += [
        t.model_copy(update={"source": copy.name}) for t in machine.transitions if t.source == state.name
    ]
    new = machine.model_copy(update={"states": (*machine.states, copy), "transitions": tuple(transitions)})
    return [e.with_body(genome, trail, new)]


@operator("mut_remove_state")
def mut_remove_state(
    parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext
) -> Children:
    """A state that is not initial is removed; what entered it goes where it would have gone next."""
    genome = parents[0]
    sites = [
        (trail, m, s)
        for trail, m in e.machines(genome)
        for s in m.states
        if s.name != m.initial and len(m.states) > 1 and any(t.source == s.name for t in m.transitions)
    ]
    site = e.choose(rng, sites)
    if site is None:
        return []
    trail, machine, state = site
    after = next(t.target for t in machine.transitions if t.source == state.name)
    transitions = tuple(
        t.model_copy(update={"target": after}) if t.target == state.name else t
        for t in machine.transitions
        if t.source != state.name
    )
    states = tuple(s for s in machine.states if s.name != state.name)
    new = machine.model_copy(update={"states": states, "transitions": transitions})
    return [e.prune_agents(e.with_body(genome, trail, new))]


@operator("mut_transition")
def mut_transition(
    parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext
) -> Children:
    """A transition is dropped (when its state has another way out) or sent to another state.

    Only edits that keep the machine well formed are drawn (every state reachable from the
    initial one, a final state reachable from every state): a random retarget mostly strands a
    state, so the sound edits are listed first, then one is chosen (a drop or a retarget with
    even odds when both exist). The child is still checked by ``vary`` like any other.
    """
    genome = parents[0]
    sites = [(trail, m, *_transition_edits(m)) for trail, m in e.machines(genome) if m.transitions]
    found = e.choose(rng, [site for site in sites if site[2] or site[3]])
    if found is None:
        return []
    trail, machine, drops, retargets = found
    edits = drops if drops and (not retargets or rng.random() < 0.5) else retargets
    transitions = edits[rng.randrange(len(edits))]
    new = machine.model_copy(update={"transitions": transitions})
    return [e.with_body(genome, trail, new)]


Edits = list[tuple[TransitionSpec, ...]]


def _transition_edits(machine: MachineSpec) -> tuple[Edits, Edits]:
    """Every well-formed machine one transition edit away: the drops, then the retargets."""
    current = machine.transitions
    names = [s.name for s in machine.states]
    drops: Edits = []
    retargets: Edits = []
    for index, chosen in enumerate(current):
        if sum(t.source == chosen.source for t in current) > 1:
            dropped = current[:index] + current[index + 1 :]
            if _well_formed(names, machine.initial, dropped):
                drops.append(dropped)
        for target in names:
            if target == chosen.target:
                continue
            moved = (*current[:index], chosen.model_copy(update={"target": target}), *current[index + 1 :])
            if _well_formed(names, machine.initial, moved):
                retargets.append(moved)
    return drops, retargets


def _well_formed(names: Sequence[str], initial: str, transitions: Sequence[TransitionSpec]) -> bool:
    """A final state exists, every state is reachable from ``initial`` and can reach a final one."""
    forward: dict[str, set[str]] = {name: set() for name in names}
    backward: dict[str, set[str]] = {name: set() for name in names}
    for t in transitions:
        if t.source not in forward or t.target not in forward:
            return False
        forward[t.source].add(t.target)
        backward[t.target].add(t.source)
    finals = [name for name in names if not forward[name]]
    return bool(finals) and reachable([initial], forward) == set(names) == reachable(finals, backward)


@operator("mut_guard_value")
def mut_guard_value(
    parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext
) -> Children:
    """One number a transition guard compares with (an attempt limit, a pass threshold) moved a
    little: an integer by 1 or 2 (never below 0), a float by up to a fifth of itself (never
    below 0). A raised limit raises the machine's step limit as much, so the loop can use it."""
    genome = parents[0]
    sites = [
        (trail, m, i)
        for trail, m in e.machines(genome)
        for i, t in enumerate(m.transitions)
        if isinstance(t.guard, CompareSpec) and _number(t.guard.value)
    ]
    site = e.choose(rng, sites)
    if site is None:
        return []
    trail, machine, index = site
    transition = machine.transitions[index]
    guard = transition.guard
    assert isinstance(guard, CompareSpec)
    assert isinstance(guard.value, int | float)
    old = guard.value
    new: int | float
    if isinstance(old, int):
        new = max(0, old + rng.choice((-2, -1, 1, 2)))
    else:
        new = round(max(0.0, old * (1.0 + rng.uniform(-0.2, 0.2)) + rng.uniform(-0.05, 0.05)), 3)
    if new == old:
        return []
    moved = transition.model_copy(update={"guard": guard.model_copy(update={"value": new})})
    transitions = (*machine.transitions[:index], moved, *machine.transitions[index + 1 :])
    steps = machine.max_steps + max(0, int(new - old)) if isinstance(new, int) else machine.max_steps
    changed = machine.model_copy(update={"transitions": transitions, "max_steps": steps})
    return [e.with_body(genome, trail, changed)]


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
