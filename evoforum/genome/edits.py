"""Edits that add the runtime's genes to a genome, or take them out again, as pure functions of
frozen genomes (search spaces build genomes with them, structural operators mutate with them).

- ``add_recall`` / ``drop_recall``: an LLM agent's prompt begins with the solved train items
  nearest to a workflow input, recalled from the run's memory by a ``RecallSpec`` task;
- ``over_bus`` / ``off_bus``: an LLM task's call goes as a request on a typed bus subject that its
  agent serves (a ``RequestSpec``), or back to a direct call.

Each returns None when the genome offers no place for the edit.
"""

from __future__ import annotations

from evoforum.genome._code import read_code
from evoforum.genome.agents import LLMAgentSpec, RecallSpec, RequestSpec, placeholders
from evoforum.genome.flows import (
    DagSpec,
    FromInputSpec,
    FromTaskSpec,
    TaskSpec,
    WireSpec,
    bodies,
    replaced,
)
from evoforum.genome.model import WorkflowGenome

__all__ = [
    "EXAMPLES",
    "add_recall",
    "drop_recall",
    "fresh",
    "off_bus",
    "over_bus",
    "prune_agents",
    "referenced_agents",
    "rewired",
    "used_names",
]

EXAMPLES = "examples"
"""The parameter (and prompt placeholder) by which ``add_recall`` feeds recalled items to a prompt."""


def add_recall(genome: WorkflowGenome, agent: str, query: str, *, k: int = 2) -> WorkflowGenome | None:
    """``genome`` where the LLM agent ``agent`` begins its prompt with the ``k`` solved train items
    nearest to the workflow input ``query`` (``{examples}``): a ``RecallSpec`` agent, and in each
    DAG with a task of ``agent`` a task recalling them, read by those tasks. None when there is no
    such place (no task of the agent, ``query`` is no input, or its prompt already reads one)."""
    spec = genome.agent(agent)
    if (
        not isinstance(spec, LLMAgentSpec)
        or query not in genome.inputs
        or EXAMPLES in placeholders(spec.prompt)
    ):
        return None
    sites = {
        trail for trail, body in bodies(genome.entry) if isinstance(body, DagSpec) and _calls(body, agent)
    }
    if not sites:
        return None
    taken = _names(genome)
    recaller = fresh("solved_examples", taken)
    entry = genome.entry
    for trail in sorted(sites):
        dag = dict(bodies(entry))[trail]
        assert isinstance(dag, DagSpec)
        if any(EXAMPLES in (w.parameter for w in t.inputs) for t in dag.tasks if t.agent == agent):
            return None
        step = TaskSpec(
            name=fresh("recall_examples", taken),
            agent=recaller,
            inputs=(WireSpec(parameter="query", source=FromInputSpec(name=query)),),
        )
        read = WireSpec(parameter=EXAMPLES, source=FromTaskSpec(task=step.name))
        tasks = [
            t.model_copy(update={"inputs": (*t.inputs, read)}) if t.agent == agent else t for t in dag.tasks
        ]
        entry = replaced(entry, trail, DagSpec(tasks=(step, *tasks)))
    prompted = spec.model_copy(update={"prompt": f"{{{EXAMPLES}}}" + spec.prompt})
    agents = tuple(prompted if a.name == agent else a for a in genome.agents)
    return genome.model_copy(update={"agents": (*agents, RecallSpec(name=recaller, k=k)), "entry": entry})


def drop_recall(genome: WorkflowGenome, task: str) -> WorkflowGenome | None:
    """``genome`` without the recall task ``task``: its readers lose the wire and the
    ``{placeholder}`` it filled in their prompts, and an agent no task calls any more goes.
    None when ``task`` is no recall task read only by LLM tasks."""
    for trail, body in bodies(genome.entry):
        if not isinstance(body, DagSpec) or task not in {t.name for t in body.tasks}:
            continue
        step = next(t for t in body.tasks if t.name == task)
        if not isinstance(genome.agent(step.agent), RecallSpec):
            return None
        readers = {
            t.agent: w.parameter
            for t in body.tasks
            for w in t.inputs
            if isinstance(w.source, FromTaskSpec) and w.source.task == task
        }
        if not all(isinstance(genome.agent(a), LLMAgentSpec) for a in readers):
            return None
        tasks = tuple(
            t.model_copy(
                update={
                    "inputs": tuple(
                        w
                        for w in t.inputs
                        if not (isinstance(w.source, FromTaskSpec) and w.source.task == task)
                    )
                }
            )
            for t in body.tasks
            if t.name != task
        )
        entry = replaced(genome.entry, trail, DagSpec(tasks=tasks))
        called = {t.agent for _, b in bodies(entry) if isinstance(b, DagSpec) for t in b.tasks}
        agents = []
        for agent in genome.agents:
            if isinstance(agent, LLMAgentSpec) and agent.name in readers:
                agent = agent.model_copy(
                    update={"prompt": agent.prompt.replace(f"{{{readers[agent.name]}}}", "")}
                )
            if agent.name in called or not isinstance(agent, RecallSpec):
                agents.append(agent)
        return genome.model_copy(update={"agents": tuple(agents), "entry": entry})
    return None


def over_bus(genome: WorkflowGenome, task: str, subject: str) -> WorkflowGenome | None:
    """``genome`` where the LLM task ``task`` sends its inputs as a request on ``subject`` (one text
    field per wired parameter), which its agent serves: a new ``RequestSpec`` agent answered by
    the task's old one. None when ``task`` is no LLM task or calls an agent with an output schema."""
    for trail, body in bodies(genome.entry):
        if not isinstance(body, DagSpec):
            continue
        found = next((t for t in body.tasks if t.name == task), None)
        if found is None:
            continue
        agent = genome.agent(found.agent)
        if not isinstance(agent, LLMAgentSpec) or agent.output_schema is not None or not found.inputs:
            return None
        taken = _names(genome)
        spec = RequestSpec(
            name=fresh(f"{agent.name}_request", taken),
            subject=subject,
            fields=tuple(w.parameter for w in found.inputs),
            responder=agent.name,
        )
        tasks = tuple(t.model_copy(update={"agent": spec.name}) if t.name == task else t for t in body.tasks)
        entry = replaced(genome.entry, trail, DagSpec(tasks=tasks))
        return genome.model_copy(update={"agents": (*genome.agents, spec), "entry": entry})
    return None


def off_bus(genome: WorkflowGenome, task: str) -> WorkflowGenome | None:
    """``genome`` where the request task ``task`` calls its responder directly again (the request
    agent goes when no task uses it any more). None when ``task`` is no request task."""
    for trail, body in bodies(genome.entry):
        found = next((t for t in body.tasks if t.name == task), None) if isinstance(body, DagSpec) else None
        if found is None or not isinstance(body, DagSpec):
            continue
        spec = genome.agent(found.agent)
        if not isinstance(spec, RequestSpec):
            return None
        tasks = tuple(
            t.model_copy(update={"agent": spec.responder}) if t.name == task else t for t in body.tasks
        )
        entry = replaced(genome.entry, trail, DagSpec(tasks=tasks))
        called = {t.agent for _, b in bodies(entry) if isinstance(b, DagSpec) for t in b.tasks}
        agents = tuple(a for a in genome.agents if a.name in called or not isinstance(a, RequestSpec))
        return genome.model_copy(update={"agents": agents, "entry": entry})
    return None


def _calls(dag: DagSpec, agent: str) -> bool:
    return any(t.agent == agent for t in dag.tasks)


def used_names(genome: WorkflowGenome) -> set[str]:
    """Every name a new agent, task, state or output must not take."""
    names = set(genome.inputs) | {a.name for a in genome.agents}
    for _, body in bodies(genome.entry):
        if isinstance(body, DagSpec):
            names |= {t.name for t in body.tasks} | {t.output_name for t in body.tasks}
        else:
            names |= {s.name for s in body.states}
    return names


def _names(genome: WorkflowGenome) -> set[str]:
    """``used_names`` and the functions of the genome's code."""
    return used_names(genome) | set(read_code(genome.code).functions)


def fresh(base: str, taken: set[str]) -> str:
    """``base`` or ``base_2``, ``base_3``… whichever is not in ``taken`` (and add it there); a
    ``base`` that ends in a number counts on from its stem (``draft_1`` -> ``draft_2``)."""
    stem = base.rstrip("0123456789_") or "x"
    name, number = base, 2
    while name in taken:
        name = f"{stem}_{number}"
        number += 1
    taken.add(name)
    return name


def rewired(task: TaskSpec, old: str, new: str) -> TaskSpec:
    """``task`` reading from upstream task ``new`` wherever it read from ``old``."""
    wires = tuple(
        w.model_copy(update={"source": FromTaskSpec(task=new, field=w.source.field)})
        if isinstance(w.source, FromTaskSpec) and w.source.task == old
        else w
        for w in task.inputs
    )
    return task.model_copy(update={"inputs": wires})


def referenced_agents(genome: WorkflowGenome) -> set[str]:
    """The agents a task calls, and the responders of the request agents among them."""
    called = {t.agent for _, body in bodies(genome.entry) if isinstance(body, DagSpec) for t in body.tasks}
    return called | {a.responder for a in genome.agents if isinstance(a, RequestSpec) and a.name in called}


def prune_agents(genome: WorkflowGenome) -> WorkflowGenome:
    """``genome`` without the agents nothing calls (``referenced_agents``)."""
    used = referenced_agents(genome)
    return genome.model_copy(update={"agents": tuple(a for a in genome.agents if a.name in used)})
