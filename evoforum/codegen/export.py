"""``export(genome) -> str``: a genome as a readable Python module on evoforum's public API.

The module has a fixed shape that ``parse`` reads back:

1. a docstring and the ``from evoforum… import …`` lines;
2. ``# -- code …``: the genome's code, verbatim;
3. ``# -- workflow …``: ``METADATA`` and ``INPUTS`` (plain literals); one ``name = LLMAgentSpec(…)``
   per LLM agent (``RecallSpec(…)``, ``RememberSpec(…)``, ``RequestSpec(…)`` for the runtime's
   kinds) and ``name = function`` per function agent; one ``@task`` function per task, whose
   parameters are named after what feeds them (an upstream task's output name or a value), then
   the injected resources (``llm``, ``memory``, ``bus``: ``Depends(providers.…)``), and whose body
   calls the agent (``ask``, ``recall``, ``remember`` or ``request`` for the kinds that need the
   runtime); and ``workflow = …``: a ``>>`` DAG or a ``StateMachine`` with
   ``Transition``s guarded by ``CompareSpec(…)`` or a predicate function of the code;
4. ``if __name__ == "__main__": run_script(workflow, INPUTS)``, so ``python module.py "input"``
   runs it (LLM agents ask the model named by ``EVOFORUM_LLM_URL``).
"""

from __future__ import annotations

from evoforum.codegen._flows import body_node, needs_dag_call
from evoforum.codegen._layout import WIDTH, Atom, Item, Node, Seq, Str, call, literal, render, string
from evoforum.genome import (
    CompareSpec,
    DagSpec,
    FromTaskSpec,
    FunctionAgentSpec,
    MachineSpec,
    TaskSpec,
    WorkflowGenome,
)
from evoforum.genome.agents import (
    EXAMPLE_TEMPLATE,
    SOLVED,
    AgentSpec,
    RecallSpec,
    RememberSpec,
    RequestSpec,
)
from evoforum.genome.flows import bodies, state_names, walk

CODE_MARKER = "# -- code: helper functions and tools "
WORKFLOW_MARKER = "# -- workflow "

CALLS: dict[str, tuple[str, tuple[str, ...]]] = {
    "llm": ("ask", ("llm",)),
    "recall": ("recall", ("memory", "llm")),
    "remember": ("remember", ("memory", "llm")),
    "request": ("request", ("bus", "llm")),
}
"""Per agent kind, what its exported tasks call and the injected resources they pass first (a
request passes its responder after the agent)."""
SAMPLED = ("llm", "request")
"""The kinds whose exported calls pass their call-site seed, ``seed=sites.seed("state/task")``
(``sites=Depends(call_sites)``), so an exported module asks what the compiled genome asks."""
SITES = "call_sites"

MAIN = """if __name__ == "__main__":
    run_script(workflow, INPUTS)
"""


def _rule(text: str) -> str:
    return text + "-" * max(3, WIDTH - len(text))


def _docstring(genome: WorkflowGenome) -> str:
    name = genome.metadata.name
    safe = name if name and all(c.isprintable() and c not in "\"'\\" for c in name) else "workflow"
    return (
        f'"""{safe}: a workflow exported by evoforum.\n\n'
        'Run it on an input:  python this_file.py "your input"\n\n'
        "Prompts, constants and helper functions may be edited; evoforum.codegen.parse reads the\n"
        'module back into a genome (see METADATA for the name, notes and origin).\n"""'
    )


def export(genome: WorkflowGenome) -> str:
    """The Python module of a valid ``genome`` (``GenomeInvalid`` when it is not valid)."""
    genome.validate_all()
    parts = [_docstring(genome) + "\n\n" + _imports(genome)]
    if genome.code:
        parts.append(_rule(CODE_MARKER) + "\n" + genome.code.rstrip("\n"))
    meta = genome.metadata.model_dump(mode="json")
    lines = [_rule(WORKFLOW_MARKER), *render(literal(meta), 0, "METADATA = ")]
    lines += render(literal(tuple(genome.inputs)), 0, "INPUTS = ")
    lines += [""]
    lines += [line for a in genome.agents for line in render(_agent(a), 0, f"{a.name} = ")]
    parts.append("\n".join(lines))
    for site, task, dag in _tasks(genome):
        parts.append("\n".join(_task(task, dag, genome.agent(task.agent), site)))
    parts.append("\n".join(render(body_node(genome.entry), 0, "workflow = ")))
    parts.append(MAIN.rstrip("\n"))
    return "\n\n\n".join(parts) + "\n"


def _imports(genome: WorkflowGenome) -> str:
    """The import lines of the module: only the names it uses."""
    parts = walk(genome.entry)
    dags = [body for _, body in parts if isinstance(body, DagSpec)]
    machines = [body for _, body in parts if isinstance(body, MachineSpec)]
    kinds = {agent.kind for agent in genome.agents}
    injects = bool(kinds & set(CALLS))
    flow = ["Depends"] if injects else []
    if any(needs_dag_call(d) for d in dags):
        flow.append("dag")
    flow += ["StateMachine", "Transition"] if machines else []
    flow += ["providers", "task"] if injects else ["task"]
    guards = [t.guard for m in machines for t in m.transitions]
    specs = {
        "llm": "LLMAgentSpec",
        "recall": "RecallSpec",
        "remember": "RememberSpec",
        "request": "RequestSpec",
    }
    genome_names = (["CompareSpec"] if any(isinstance(g, CompareSpec) for g in guards) else []) + sorted(
        specs[kind] for kind in kinds if kind in specs
    )
    lines = [
        "from evoforum.codegen import run_script",
        f"from evoforum.flow import {', '.join(sorted(flow))}",
    ]
    if genome_names:
        lines.append(f"from evoforum.genome import {', '.join(genome_names)}")
    memory = sorted(CALLS[kind][0] for kind in kinds & {"recall", "remember"})
    if memory:
        lines.append(f"from evoforum.genome.memory_tasks import {', '.join(memory)}")
    sampled = [CALLS[kind][0] for kind in kinds & set(SAMPLED)]
    runnable = sorted([*sampled, SITES]) if sampled else []
    if runnable:
        lines.append(f"from evoforum.genome.runnable import {', '.join(runnable)}")
    return "\n".join(lines)


def _tasks(genome: WorkflowGenome) -> list[tuple[str, TaskSpec, DagSpec]]:
    """Every task with its DAG and its call site (``"state/task"``: the names of the states above
    it, then its own; the path a compiled genome seeds its calls by)."""
    found = []
    for trail, body in bodies(genome.entry):
        if isinstance(body, DagSpec):
            states = state_names(genome.entry, trail)
            found += [("/".join((*states, task.name)), task, body) for task in body.tasks]
    return found


def _agent(agent: AgentSpec) -> Node:
    if isinstance(agent, FunctionAgentSpec):
        return Atom(agent.function)
    if isinstance(agent, RecallSpec | RememberSpec | RequestSpec):
        return _runtime_agent(agent)
    args = [Item(Str(agent.name), "name="), Item(Str(agent.model), "model=")]
    if agent.system_prompt:
        args.append(Item(Str(agent.system_prompt), "system_prompt="))
    if agent.prompt:
        args.append(Item(Str(agent.prompt), "prompt="))
    args.append(Item(Atom(repr(agent.temperature)), "temperature="))
    if agent.max_tokens is not None:
        args.append(Item(Atom(repr(agent.max_tokens)), "max_tokens="))
    if agent.tools:
        args.append(Item(literal(tuple(agent.tools)), "tools="))
    if agent.output_schema is not None:
        args.append(Item(literal(agent.output_schema.model_dump(mode="json")), "output_schema="))
    return call("LLMAgentSpec", args, always_break=True)


def _runtime_agent(agent: RecallSpec | RememberSpec | RequestSpec) -> Node:
    """The spec of a memory or dialogue agent: its fields, defaults left out where they are
    conventions (the solved collection and example template of a recall, a request's timeout)."""
    args = [Item(Str(agent.name), "name=")]
    if isinstance(agent, RecallSpec):
        if agent.collection != SOLVED:
            args.append(Item(Str(agent.collection), "collection="))
        args.append(Item(Atom(repr(agent.k)), "k="))
        if agent.template != EXAMPLE_TEMPLATE:
            args.append(Item(Str(agent.template), "template="))
        return call("RecallSpec", args)
    if isinstance(agent, RememberSpec):
        args += [Item(Str(agent.collection), "collection="), Item(Str(agent.key), "key=")]
        return call("RememberSpec", args)
    args += [
        Item(Str(agent.subject), "subject="),
        Item(literal(tuple(agent.fields)), "fields="),
        Item(Str(agent.responder), "responder="),
    ]
    if agent.timeout_s != RequestSpec.model_fields["timeout_s"].default:
        args.append(Item(Atom(repr(agent.timeout_s)), "timeout_s="))
    return call("RequestSpec", args)


def _task(task: TaskSpec, dag: DagSpec, agent: AgentSpec | None, site: str) -> list[str]:
    outputs = {t.name: t.output_name for t in dag.tasks}
    params: dict[str, None] = {}
    kwargs = []
    for wire in task.inputs:
        source = wire.source
        if isinstance(source, FromTaskSpec):
            param = outputs[source.task]
            value = param if source.field is None else f"{param}[{string(source.field)}]"
        else:
            param = value = source.name
        params[param] = None
        kwargs.append(Item(Atom(value), f"{wire.parameter}="))
    options = []
    if task.executor != "asyncio":
        options.append(f"executor={string(task.executor)}")
    if task.output is not None:
        options.append(f"output={string(task.output)}")
    decorator = f"@task({', '.join(options)})" if options else "@task"
    items = [Item(Atom(name)) for name in params]
    if agent is not None and agent.kind in CALLS:
        function, resources = CALLS[agent.kind]
        items += [Item(Atom(f"Depends(providers.{name})"), f"{name}=") for name in resources]
        if agent.kind in SAMPLED:
            items.append(Item(Atom(f"Depends({SITES})"), "sites="))
            kwargs.append(Item(Atom(f"sites.seed({string(site)})"), "seed="))
        head = Seq(f"async def {task.name}(", items, ")")
        passed = [*resources, task.agent]
        if isinstance(agent, RequestSpec):
            passed.append(agent.responder)
        body = call(function, [*(Item(Atom(name)) for name in passed), *kwargs])
        returned = render(body, 1, "return await ")
    else:
        head = Seq(f"def {task.name}(", items, ")")
        returned = render(call(task.agent, kwargs), 1, "return ")
    return [decorator, *render(head, 0, "", ":"), *returned]
