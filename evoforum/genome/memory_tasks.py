"""Memory tasks of a genome: ``recall`` and ``remember`` on the runtime's ``Memory``, and the
edits that add a recall step to a genome or drop it (``add_recall``, ``drop_recall``).

An item is a mapping of field names to text, stored in a vector collection of the memory
(``memory.vectors(name, dim)``: a pgvector table in a run) by the embedding of one of its fields,
with the fields as its payload; its id is a hash of the fields, so storing it again replaces it.
``recall`` embeds its query the same way and shows the nearest items through the spec's template.
The embedder is anything with ``embed(texts)`` (the run's model client: its embeddings are
recorded and replayed like its answers). The exported module of a genome calls these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evoforum.errors import UsageError
from evoforum.genome._code import read_code
from evoforum.genome.agents import LLMAgentSpec, RecallSpec, RememberSpec, fill, placeholders
from evoforum.genome.flows import (
    DagSpec,
    FromInputSpec,
    FromTaskSpec,
    MachineSpec,
    StateSpec,
    TaskSpec,
    Trail,
    WireSpec,
    bodies,
)
from evoforum.genome.model import WorkflowGenome
from evoforum.hashing import digest

__all__ = ["EXAMPLES", "add_recall", "drop_recall", "item_id", "recall", "remember", "store_items"]

EXAMPLES = "examples"
"""The parameter (and prompt placeholder) by which ``add_recall`` feeds recalled items to a prompt."""


def item_id(fields: Mapping[str, str]) -> str:
    """The id of a stored item: a hash of its fields."""
    return digest(dict(fields), domain="memory-item")


async def store_items(
    memory: Any, embedder: Any, collection: str, items: Sequence[Mapping[str, str]], key: str
) -> list[str]:
    """Store ``items`` in ``collection`` of ``memory``, each found by the embedding of its field
    ``key``; their ids."""
    if not items:
        return []
    missing = [index for index, item in enumerate(items) if key not in item]
    if missing:
        raise UsageError(f"item {missing[0]} has no field {key!r} to be found by")
    vectors = await embedder.embed([str(item[key]) for item in items])
    ids = [item_id(item) for item in items]
    store = await memory.vectors(collection, len(vectors[0]))
    await store.upsert(ids, vectors, [dict(item) for item in items])
    return ids


async def remember(memory: Any, embedder: Any, spec: RememberSpec, **values: Any) -> str:
    """Store the task's ``values`` (as text) as one item of ``spec.collection``; its id."""
    item = {name: value if isinstance(value, str) else str(value) for name, value in values.items()}
    [stored] = await store_items(memory, embedder, spec.collection, [item], spec.key)
    return stored


async def recall(memory: Any, embedder: Any, spec: RecallSpec, **values: Any) -> str:
    """The ``spec.k`` items of ``spec.collection`` nearest in meaning to the one value given (the
    query), nearest first, each through ``spec.template`` and followed by a blank line ("" when
    the collection holds none)."""
    if len(values) != 1:
        raise UsageError(f"recall {spec.name!r} takes one query, not {len(values)} values")
    [query] = values.values()
    [vector] = await embedder.embed([query if isinstance(query, str) else str(query)])
    store = await memory.vectors(spec.collection, len(vector))
    hits = await store.query(vector, spec.k)
    return "".join(fill(spec.template, hit.payload) + "\n\n" for hit in hits)


# -- edits: a recall step in a genome, added or dropped ----------------------------------------


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
    recaller = _fresh("solved_examples", taken)
    entry = genome.entry
    for trail in sorted(sites):
        dag = _at(entry, trail)
        assert isinstance(dag, DagSpec)
        if any(EXAMPLES in (w.parameter for w in t.inputs) for t in dag.tasks if t.agent == agent):
            return None
        step = TaskSpec(
            name=_fresh("recall_examples", taken),
            agent=recaller,
            inputs=(WireSpec(parameter="query", source=FromInputSpec(name=query)),),
        )
        read = WireSpec(parameter=EXAMPLES, source=FromTaskSpec(task=step.name))
        tasks = [
            t.model_copy(update={"inputs": (*t.inputs, read)}) if t.agent == agent else t for t in dag.tasks
        ]
        entry = _replaced(entry, trail, DagSpec(tasks=(step, *tasks)))
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
        entry = _replaced(genome.entry, trail, DagSpec(tasks=tasks))
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


def _calls(dag: DagSpec, agent: str) -> bool:
    return any(t.agent == agent for t in dag.tasks)


def _names(genome: WorkflowGenome) -> set[str]:
    names = set(genome.inputs) | {a.name for a in genome.agents} | set(read_code(genome.code).functions)
    for _, body in bodies(genome.entry):
        if isinstance(body, DagSpec):
            names |= {t.name for t in body.tasks} | {t.output_name for t in body.tasks}
        else:
            names |= {s.name for s in body.states}
    return names


def _fresh(base: str, taken: set[str]) -> str:
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    taken.add(name)
    return name


def _at(body: DagSpec | MachineSpec, trail: Trail) -> DagSpec | MachineSpec:
    for index in trail:
        assert isinstance(body, MachineSpec)
        body = body.states[index].body
    return body


def _replaced(body: DagSpec | MachineSpec, trail: Trail, new: DagSpec | MachineSpec) -> DagSpec | MachineSpec:
    if not trail:
        return new
    assert isinstance(body, MachineSpec)
    states = list(body.states)
    state = states[trail[0]]
    states[trail[0]] = StateSpec(name=state.name, body=_replaced(state.body, trail[1:], new))
    return body.model_copy(update={"states": tuple(states)})
