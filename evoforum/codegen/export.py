"""``export(genome) -> str``: a genome as a readable Python module on evoforum's public API.

The module has a fixed shape that ``parse`` reads back:

1. a docstring and the ``from evoforum… import …`` lines;
2. ``# -- code …``: the genome's code, verbatim;
3. ``# -- workflow …``: ``METADATA`` and ``INPUTS`` (plain literals); one ``name = LLMAgentSpec(…)``
   per LLM agent and ``name = function`` per function agent; one ``@task`` function per task,
   whose parameters are named after what feeds them (an upstream task's output name or a value)
   and whose body calls the agent; and ``workflow = …``: a ``>>`` DAG or a ``StateMachine`` with
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
    LLMAgentSpec,
    MachineSpec,
    TaskSpec,
    WorkflowGenome,
)
from evoforum.genome.agents import AgentSpec
from evoforum.genome.flows import walk

CODE_MARKER = "# -- code: helper functions and tools "
WORKFLOW_MARKER = "# -- workflow "

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
    for task, dag in _tasks(genome):
        parts.append("\n".join(_task(task, dag, genome.agent(task.agent))))
    parts.append("\n".join(render(body_node(genome.entry), 0, "workflow = ")))
    parts.append(MAIN.rstrip("\n"))
    return "\n\n\n".join(parts) + "\n"


def _imports(genome: WorkflowGenome) -> str:
    """The import lines of the module: only the names it uses."""
    parts = walk(genome.entry)
    dags = [body for _, body in parts if isinstance(body, DagSpec)]
    machines = [body for _, body in parts if isinstance(body, MachineSpec)]
    llm = any(isinstance(agent, LLMAgentSpec) for agent in genome.agents)
    flow = ["Depends"] if llm else []
    if any(needs_dag_call(d) for d in dags):
        flow.append("dag")
    flow += ["StateMachine", "Transition"] if machines else []
    flow += ["providers", "task"] if llm else ["task"]
    guards = [t.guard for m in machines for t in m.transitions]
    genome_names = (["CompareSpec"] if any(isinstance(g, CompareSpec) for g in guards) else []) + (
        ["LLMAgentSpec"] if llm else []
    )
    lines = [
        "from evoforum.codegen import run_script",
        f"from evoforum.flow import {', '.join(sorted(flow))}",
    ]
    if genome_names:
        lines.append(f"from evoforum.genome import {', '.join(genome_names)}")
    if llm:
        lines.append("from evoforum.genome.runnable import ask")
    return "\n".join(lines)


def _tasks(genome: WorkflowGenome) -> list[tuple[TaskSpec, DagSpec]]:
    return [
        (task, body) for _, body in walk(genome.entry) if isinstance(body, DagSpec) for task in body.tasks
    ]


def _agent(agent: AgentSpec) -> Node:
    if isinstance(agent, FunctionAgentSpec):
        return Atom(agent.function)
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


def _task(task: TaskSpec, dag: DagSpec, agent: AgentSpec | None) -> list[str]:
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
    if isinstance(agent, LLMAgentSpec):
        items.append(Item(Atom("Depends(providers.llm)"), "llm="))
        head = Seq(f"async def {task.name}(", items, ")")
        body = call("ask", [Item(Atom("llm")), Item(Atom(task.agent)), *kwargs])
        returned = render(body, 1, "return await ")
    else:
        head = Seq(f"def {task.name}(", items, ")")
        returned = render(call(task.agent, kwargs), 1, "return ")
    return [decorator, *render(head, 0, "", ":"), *returned]
