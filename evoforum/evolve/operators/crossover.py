"""Crossover of ``WorkflowGenome``s: agents, sub-DAGs (tasks of the same name) and states.

Each crossover takes two parents and returns two children, the exchange seen from both sides.
What a transplanted part needs (agents, functions of the code) comes with it from the donor when
the receiver lacks it.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Sequence

from evoforum.evolve.operators import _edit as e
from evoforum.evolve.operators.base import Children, operator
from evoforum.evolve.operators.context import OperatorContext
from evoforum.genome import DagSpec, FromTaskSpec, FunctionAgentSpec, MachineSpec, TaskSpec, WorkflowGenome
from evoforum.genome.flows import Trail
from evoforum.genome.model import normalize_code

AGENT_FIELDS = ("system_prompt", "prompt", "temperature", "max_tokens")


def _function_sources(code: str) -> dict[str, str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return {}
    return {
        node.name: ast.get_source_segment(code, node) or ""
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def bring(receiver: WorkflowGenome, donor: WorkflowGenome) -> WorkflowGenome:
    """``receiver`` with the donor's agents its flow now uses but it lacks (and their functions)."""
    have = {a.name for a in receiver.agents}
    needed = [a for a in donor.agents if a.name in e.referenced_agents(receiver) and a.name not in have]
    code = receiver.code
    functions = _function_sources(code)
    donor_functions = _function_sources(donor.code)
    for agent in needed:
        if isinstance(agent, FunctionAgentSpec) and agent.function not in functions:
            source = donor_functions.get(agent.function)
            if source:
                code = normalize_code(code + "\n\n" + source)
                functions[agent.function] = source
    return e.prune_agents(receiver.model_copy(update={"agents": (*receiver.agents, *needed), "code": code}))


@operator("cx_agents", arity=2)
def cx_agents(parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext) -> Children:
    """Uniform crossover of the LLM agents both parents have (by name): each of system prompt,
    prompt, temperature and token cap is exchanged with probability one half."""
    a, b = parents[0], parents[1]
    theirs = {agent.name: agent for agent in e.llm_agents(b)}
    one, two = a, b
    for agent in e.llm_agents(a):
        other = theirs.get(agent.name)
        if other is None:
            continue
        swap = {f: getattr(other, f) for f in AGENT_FIELDS if rng.random() < 0.5}
        back = {f: getattr(agent, f) for f in swap}
        one = e.with_agent(one, agent.model_copy(update=swap))
        two = e.with_agent(two, other.model_copy(update=back))
    if one.hash == a.hash and two.hash == b.hash:
        return []
    return [one, two]


@operator("cx_tasks", arity=2)
def cx_tasks(parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext) -> Children:
    """Sub-DAG crossover: in a DAG of each parent, every task both have (by name) and that reads
    the same upstream tasks in both is taken from the other parent with probability one half
    (its wiring and executor come along, and its LLM agent: the donor's prompts and temperature
    replace the receiver's agent of that name)."""
    a, b = parents[0], parents[1]
    pairs = [
        (ta, da, tb, db)
        for ta, da in e.dags(a)
        for tb, db in e.dags(b)
        if {t.name for t in da.tasks} & {t.name for t in db.tasks}
    ]
    pair = e.choose(rng, pairs)
    if pair is None:
        return []
    trail_a, dag_a, trail_b, dag_b = pair
    from_b = {t.name: t for t in dag_b.tasks}
    from_a = {t.name: t for t in dag_a.tasks}
    alike = [n for n in sorted(from_a.keys() & from_b.keys()) if _upstream(from_a[n]) == _upstream(from_b[n])]
    chosen = {name for name in alike if rng.random() < 0.5}
    if not chosen:
        return []
    new_a = DagSpec(tasks=tuple(from_b[t.name] if t.name in chosen else t for t in dag_a.tasks))
    new_b = DagSpec(tasks=tuple(from_a[t.name] if t.name in chosen else t for t in dag_b.tasks))
    one = _with_agents(bring(e.with_body(a, trail_a, new_a), b), b, {from_b[n].agent for n in chosen})
    two = _with_agents(bring(e.with_body(b, trail_b, new_b), a), a, {from_a[n].agent for n in chosen})
    return [one, two]


def _with_agents(receiver: WorkflowGenome, donor: WorkflowGenome, names: set[str]) -> WorkflowGenome:
    """``receiver`` with the donor's LLM agents called ``names`` in place of its own."""
    for agent in e.llm_agents(donor):
        if agent.name in names and any(a.name == agent.name for a in receiver.agents):
            receiver = e.with_agent(receiver, agent)
    return receiver


@operator("cx_states", arity=2)
def cx_states(parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext) -> Children:
    """State crossover: a state both parents' machines have (by name) exchanges its body."""
    a, b = parents[0], parents[1]
    sites = []
    for ta, ma in e.machines(a):
        for tb, mb in e.machines(b):
            for i, sa in enumerate(ma.states):
                for j, sb in enumerate(mb.states):
                    if sa.name == sb.name and sa.body != sb.body:
                        sites.append((ta, ma, i, tb, mb, j))
    site = e.choose(rng, sites)
    if site is None:
        return []
    ta, ma, i, tb, mb, j = site
    one = _set_state(a, ta, ma, i, mb.states[j].body)
    two = _set_state(b, tb, mb, j, ma.states[i].body)
    return [bring(one, b), bring(two, a)]


def _upstream(task: TaskSpec) -> set[str]:
    return {w.source.task for w in task.inputs if isinstance(w.source, FromTaskSpec)}


def _set_state(
    genome: WorkflowGenome, trail: Trail, machine: MachineSpec, index: int, body: DagSpec | MachineSpec
) -> WorkflowGenome:
    return e.with_body(genome, (*trail, index), body)


__all__ = ["bring", "cx_agents", "cx_states", "cx_tasks"]
