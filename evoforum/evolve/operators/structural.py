"""Structural mutation of ``WorkflowGenome``: parameters, prompts, tasks, agents, states, transitions.

Each mutation makes one small edit and returns one child (or none when the genome offers no
place for it). Children are checked by ``vary``; an edit that breaks the genome (a cycle, a
second sink, an unreachable state) is counted invalid there, not prevented here.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from evoforum.evolve.operators import _edit as e
from evoforum.evolve.operators.base import Children, operator
from evoforum.evolve.operators.context import OperatorContext
from evoforum.genome import (
    DagSpec,
    FromInputSpec,
    FromTaskSpec,
    FunctionAgentSpec,
    LLMAgentSpec,
    TaskSpec,
    WireSpec,
    WorkflowGenome,
)
from evoforum.genome._code import read_code
from evoforum.genome.edits import used_names

DEFAULT_TEMPERATURES = (0.0, 0.2, 0.5, 0.8)
MAX_TOKENS_LADDER: tuple[int | None, ...] = (None, 256, 384, 512, 768)
"""The caps ``mut_max_tokens`` gives an LLM agent (None: no cap of its own, the run's applies)."""
REFINE_PROMPT = "Improve this answer. Keep what is right, fix what is wrong.\n\n{text}"
REFINE_TASK_PROMPT = (
    "The task:\n\n{%s}\n\nImprove this answer to it. Keep what is right, fix what is wrong.\n\n{text}"
)
"""A refiner that also reads a workflow input (``%s``: its name)."""


def _blocks(context: OperatorContext, name: str) -> tuple[object, ...]:
    return tuple(getattr(context.space.blocks, name, ()) or ())


@operator("mut_temperature")
def mut_temperature(
    parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext
) -> Children:
    """A new temperature for one LLM agent: another of the space's, or a Gaussian step."""
    genome = parents[0]
    agent = e.choose(rng, e.llm_agents(genome))
    if agent is None:
        return []
    options = [t for t in _blocks(context, "temperatures") or DEFAULT_TEMPERATURES if t != agent.temperature]
    if options and rng.random() < 0.7:
        value = float(options[rng.randrange(len(options))])  # type: ignore[arg-type]
    else:
        value = round(min(2.0, max(0.0, agent.temperature + rng.gauss(0.0, 0.2))), 3)
    return [e.with_agent(genome, agent.model_copy(update={"temperature": value}))]


@operator("mut_max_tokens")
def mut_max_tokens(
    parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext
) -> Children:
    """Another cap on one LLM agent's completion tokens, from ``MAX_TOKENS_LADDER``: a lower cap
    spends fewer tokens, a higher one leaves room for longer answers."""
    genome = parents[0]
    agent = e.choose(rng, e.llm_agents(genome))
    if agent is None:
        return []
    options = [cap for cap in MAX_TOKENS_LADDER if cap != agent.max_tokens]
    cap = options[rng.randrange(len(options))]
    return [e.with_agent(genome, agent.model_copy(update={"max_tokens": cap}))]


@operator("mut_prompt")
def mut_prompt(parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext) -> Children:
    """One LLM agent's system prompt gains a prompt fragment of the space, loses one, or gets
    another base prompt."""
    genome = parents[0]
    agent = e.choose(rng, e.llm_agents(genome))
    if agent is None:
        return []
    fragments = [str(f) for f in _blocks(context, "prompt_fragments")]
    bases = [str(b) for b in _blocks(context, "system_prompts")]
    prompt = agent.system_prompt
    present = [f for f in fragments if f in prompt]
    absent = [f for f in fragments if f not in prompt]
    move = rng.random()
    if absent and (move < 0.5 or not present):
        prompt = (prompt + " " + absent[rng.randrange(len(absent))]).strip()
    elif present and move < 0.8:
        prompt = " ".join(prompt.replace(present[rng.randrange(len(present))], "").split())
    elif bases:
        base = next((b for b in bases if prompt.startswith(b)), "")
        new = bases[rng.randrange(len(bases))]
        prompt = new + prompt[len(base) :] if base else (new + " " + prompt).strip()
    if prompt == agent.system_prompt:
        return []
    return [e.with_agent(genome, agent.model_copy(update={"system_prompt": prompt}))]


@operator("mut_step_limit")
def mut_step_limit(
    parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext
) -> Children:
    """One state machine's step limit moved up or down."""
    genome = parents[0]
    found = e.choose(rng, e.machines(genome))
    if found is None:
        return []
    trail, machine = found
    limit = max(1, machine.max_steps + rng.choice((-2, -1, 1, 2)))
    return [e.with_body(genome, trail, machine.model_copy(update={"max_steps": limit}))]


@operator("mut_swap_agent")
def mut_swap_agent(
    parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext
) -> Children:
    """A task that calls one LLM agent calls another LLM agent of the genome instead."""
    genome = parents[0]
    llm = {a.name for a in e.llm_agents(genome)}
    sites = [(trail, dag, t) for trail, dag in e.dags(genome) for t in dag.tasks if t.agent in llm]
    site = e.choose(rng, sites)
    if site is None or len(llm) < 2:
        return []
    trail, dag, task = site
    others = sorted(llm - {task.agent})
    new = task.model_copy(update={"agent": others[rng.randrange(len(others))]})
    tasks = tuple(new if t.name == task.name else t for t in dag.tasks)
    return [e.prune_agents(e.with_body(genome, trail, DagSpec(tasks=tasks)))]


@operator("mut_add_task")
def mut_add_task(parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext) -> Children:
    """A new refining LLM task inserted after an LLM task; its consumers read the refined text.
    Half the time (when the workflow has inputs) the refiner also reads one of them (``problem``,
    say), so it can tell right from wrong."""
    genome = parents[0]
    llm = {a.name: a for a in e.llm_agents(genome) if a.output_schema is None}
    sites = [(trail, dag, t) for trail, dag in e.dags(genome) for t in dag.tasks if t.agent in llm]
    site = e.choose(rng, sites)
    if site is None:
        return []
    trail, dag, task = site
    taken = used_names(genome)
    name, agent_name = e.fresh(f"refine_{task.name}", taken), e.fresh("refiner", taken)
    template = llm[task.agent]
    fragments = [str(f) for f in _blocks(context, "prompt_fragments")]
    system = template.system_prompt
    if fragments:
        system = (system + " " + fragments[rng.randrange(len(fragments))]).strip()
    inputs = [WireSpec(parameter="text", source=FromTaskSpec(task=task.name))]
    prompt = REFINE_PROMPT
    readable = [value for value in genome.inputs if value != "text"]
    if readable and rng.random() < 0.5:
        read = readable[rng.randrange(len(readable))]
        inputs.append(WireSpec(parameter=read, source=FromInputSpec(name=read)))
        prompt = REFINE_TASK_PROMPT % read
    agent = LLMAgentSpec(
        name=agent_name,
        model=template.model,
        system_prompt=system,
        prompt=prompt,
        temperature=template.temperature,
        max_tokens=template.max_tokens,
    )
    sink = not e.consumers(dag, task.name)
    refine = TaskSpec(
        name=name,
        agent=agent_name,
        inputs=tuple(inputs),
        output=task.output_name if sink and task.output_name != task.name else None,
    )
    tasks: list[TaskSpec] = []
    for t in dag.tasks:
        if t.name == task.name and refine.output is not None:
            t = t.model_copy(update={"output": None})
        tasks.append(e.rewired(t, task.name, name))
        if t.name == task.name:
            tasks.append(refine)
    child = genome.model_copy(update={"agents": (*genome.agents, agent)})
    return [e.with_body(child, trail, DagSpec(tasks=tuple(tasks)))]


@operator("mut_remove_task")
def mut_remove_task(
    parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext
) -> Children:
    """A task fed by an upstream task is bypassed: its consumers read that upstream task instead."""
    genome = parents[0]
    sites = []
    for trail, dag in e.dags(genome):
        for task in dag.tasks:
            ups = [
                w.source.task
                for w in task.inputs
                if isinstance(w.source, FromTaskSpec) and w.source.field is None
            ]
            if ups and len(dag.tasks) > 1:
                sites.append((trail, dag, task, ups[0]))
    site = e.choose(rng, sites)
    if site is None:
        return []
    trail, dag, task, upstream = site
    sink = not e.consumers(dag, task.name)
    tasks = []
    for t in dag.tasks:
        if t.name == task.name:
            continue
        if sink and t.name == upstream:
            t = t.model_copy(update={"output": task.output_name})
        tasks.append(e.rewired(t, task.name, upstream))
    return [e.prune_agents(e.with_body(genome, trail, DagSpec(tasks=tuple(tasks))))]


@operator("mut_rewire")
def mut_rewire(parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext) -> Children:
    """One wire gets another source: a wire from an upstream task moves to another task of the
    same DAG (not one below it, and only when the old source keeps another reader); a wire from a
    value reads another workflow input or another DAG's output."""
    genome = parents[0]
    sites = [
        (trail, dag, t, i) for trail, dag in e.dags(genome) for t in dag.tasks for i in range(len(t.inputs))
    ]
    site = e.choose(rng, sites)
    if site is None:
        return []
    trail, dag, task, index = site
    wire = task.inputs[index]
    source: FromTaskSpec | FromInputSpec
    if isinstance(wire.source, FromTaskSpec):
        old = wire.source.task
        readers = sum(
            isinstance(w.source, FromTaskSpec) and w.source.task == old for t in dag.tasks for w in t.inputs
        )
        options = [t.name for t in dag.tasks if t.name not in _downstream(dag, task.name) | {task.name, old}]
        if not options or readers < 2:
            return []
        source = FromTaskSpec(task=options[rng.randrange(len(options))])
    else:
        own = {t.output_name for t in dag.tasks}
        keys = set(genome.inputs) | {t.output_name for _, d in e.dags(genome) for t in d.tasks}
        values = sorted(keys - own - {wire.source.name})
        if not values:
            return []
        source = FromInputSpec(name=values[rng.randrange(len(values))])
    inputs = (*task.inputs[:index], wire.model_copy(update={"source": source}), *task.inputs[index + 1 :])
    tasks = tuple(t.model_copy(update={"inputs": inputs}) if t.name == task.name else t for t in dag.tasks)
    return [e.with_body(genome, trail, DagSpec(tasks=tasks))]


def _downstream(dag: DagSpec, name: str) -> set[str]:
    found: set[str] = set()
    frontier = [name]
    while frontier:
        for reader in e.consumers(dag, frontier.pop()):
            if reader.name not in found:
                found.add(reader.name)
                frontier.append(reader.name)
    return found


@operator("mut_examples")
def mut_examples(parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext) -> Children:
    """One LLM agent's prompt drops a few-shot example of the space (``BuildingBlocks.examples``:
    solved train problems) it begins with, or begins with one more."""
    genome = parents[0]
    examples = [str(x) for x in _blocks(context, "examples")]
    agent = e.choose(rng, e.llm_agents(genome))
    if agent is None or not examples:
        return []
    present = [x for x in examples if agent.prompt.startswith(x + "\n\n") or f"\n\n{x}\n\n" in agent.prompt]
    absent = [x for x in examples if x not in present]
    if present and (not absent or rng.random() < 0.5):
        dropped = present[rng.randrange(len(present))]
        prompt = agent.prompt.replace(dropped + "\n\n", "", 1)
    elif absent:
        prompt = absent[rng.randrange(len(absent))] + "\n\n" + agent.prompt
    else:
        return []
    return [e.with_agent(genome, agent.model_copy(update={"prompt": prompt}))]


@operator("mut_fan_out")
def mut_fan_out(parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext) -> Children:
    """k samples become k + 1 or k - 1: an LLM task sampled above temperature 0 whose reader is a
    function taking any number of keywords (a selector of drafts) gets a twin read under a new
    name, or (with a twin already) loses one."""
    genome = parents[0]
    functions = read_code(genome.code).functions
    hot = {a.name for a in e.llm_agents(genome) if a.temperature > 0}
    variadic = {
        a.name
        for a in genome.agents
        if isinstance(a, FunctionAgentSpec) and a.function in functions and functions[a.function].variadic
    }
    sites = []
    for trail, dag in e.dags(genome):
        for reader in dag.tasks:
            if reader.agent not in variadic:
                continue
            fed = {
                w.source.task
                for w in reader.inputs
                if isinstance(w.source, FromTaskSpec) and w.source.field is None
            }
            drafts = [t for t in dag.tasks if t.agent in hot and t.name in fed]
            if drafts:
                sites.append((trail, dag, reader, drafts))
    site = e.choose(rng, sites)
    if site is None:
        return []
    trail, dag, reader, drafts = site
    if len(drafts) > 1 and rng.random() < 0.5:
        gone = drafts[rng.randrange(len(drafts))]
        inputs = tuple(
            w
            for w in reader.inputs
            if not (isinstance(w.source, FromTaskSpec) and w.source.task == gone.name)
        )
        tasks = tuple(
            reader.model_copy(update={"inputs": inputs}) if t.name == reader.name else t
            for t in dag.tasks
            if t.name != gone.name
        )
        return [e.with_body(genome, trail, DagSpec(tasks=tasks))]
    model = drafts[rng.randrange(len(drafts))]
    taken = used_names(genome) | {w.parameter for w in reader.inputs}
    twin = model.model_copy(update={"name": e.fresh(model.name, taken), "output": None})
    parameter = e.fresh("answer", taken | {twin.name})
    wired = reader.model_copy(
        update={
            "inputs": (*reader.inputs, WireSpec(parameter=parameter, source=FromTaskSpec(task=twin.name)))
        }
    )
    tasks = tuple(wired if t.name == reader.name else t for t in dag.tasks)
    at = [t.name for t in tasks].index(model.name) + 1
    return [e.with_body(genome, trail, DagSpec(tasks=(*tasks[:at], twin, *tasks[at:])))]
