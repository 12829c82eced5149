"""Validation: every problem of a genome, each with its path, gathered into one list.

Checked: names (Python identifiers, no duplicates, no clashes between agents, tasks, the code's
top-level names, context keys and the names an exported module uses), the code (parses, no
``__future__`` imports, no function defined twice), references (agents, tools, functions, upstream
tasks, context keys, states) with "did you mean …?" hints, DAGs (no cycles, one output task) and
machines (known, reachable states; from every reachable state a final state stays reachable).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from evoforum.errors import did_you_mean
from evoforum.genome._code import CodeFacts, is_name, read_code
from evoforum.genome._graph import FlowChecker
from evoforum.genome.agents import SOLVED, FunctionAgentSpec, LLMAgentSpec, RememberSpec, RequestSpec

if TYPE_CHECKING:
    from evoforum.genome.model import WorkflowGenome

EXPORT_NAMES = frozenset(
    {
        "CompareSpec",
        "Depends",
        "INPUTS",
        "LLMAgentSpec",
        "METADATA",
        "StateMachine",
        "Transition",
        "ask",
        "providers",
        "run_script",
        "task",
        "workflow",
    }
)
"""Module-level names an exported genome uses itself; the genome may not define them."""

PARAMETER_NAMES = frozenset({"llm"})
"""Parameter names an exported task uses itself (the injected language model)."""
RUNTIME_NAMES: dict[str, frozenset[str]] = {
    "recall": frozenset({"RecallSpec", "recall", "memory"}),
    "remember": frozenset({"RememberSpec", "remember", "memory"}),
    "request": frozenset({"RequestSpec", "request", "bus"}),
}
"""The names an exported module adds for an agent of each runtime kind (its spec class, the
function its tasks call, the injected resource): only genomes with such an agent reserve them."""


def exported_names(genome: WorkflowGenome) -> frozenset[str]:
    """Every module-level or task-parameter name the export of ``genome`` uses itself."""
    kinds = {agent.kind for agent in genome.agents}
    extra = [names for kind, names in RUNTIME_NAMES.items() if kind in kinds]
    return EXPORT_NAMES.union(PARAMETER_NAMES, *extra)


def find_problems(genome: WorkflowGenome) -> list[tuple[str, str]]:
    """Every problem of ``genome`` as ``(path, what)``, in a stable order."""
    problems: list[tuple[str, str]] = []
    facts = read_code(genome.code)
    _check_code(facts, problems)
    _check_inputs(genome, problems)
    _check_agents(genome, facts, problems)
    flows = FlowChecker(genome, facts, problems)
    flows.check(genome.entry, "entry")
    _check_clashes(genome, facts, flows, problems)
    return problems


def _check_code(facts: CodeFacts, problems: list[tuple[str, str]]) -> None:
    if facts.error is not None:
        problems.append(("code", facts.error))
        return
    if facts.future_line is not None:
        problems.append(("code", f"line {facts.future_line}: __future__ imports are not allowed in code"))
    seen: dict[str, int] = {}
    for name, line in facts.names:
        if name in facts.functions and name in seen:
            problems.append(("code", f"{name!r} is defined twice (lines {seen[name]} and {line})"))
        seen.setdefault(name, line)


def _check_inputs(genome: WorkflowGenome, problems: list[tuple[str, str]]) -> None:
    if not genome.inputs:
        problems.append(("inputs", "a workflow needs at least one input"))
    for index, name in enumerate(genome.inputs):
        if not is_name(name):
            problems.append((f"inputs[{index}]", f"{name!r} is not a Python name"))
    for name, count in Counter(genome.inputs).items():
        if count > 1:
            problems.append(("inputs", f"input {name!r} is named {count} times"))


def _check_agents(genome: WorkflowGenome, facts: CodeFacts, problems: list[tuple[str, str]]) -> None:
    functions = sorted(facts.functions)
    for index, agent in enumerate(genome.agents):
        path = f"agents[{index}]"
        if not is_name(agent.name):
            problems.append((f"{path}.name", f"{agent.name!r} is not a Python name"))
        if isinstance(agent, LLMAgentSpec):
            if not agent.model:
                problems.append((f"{path}.model", "no model named"))
            for tool_index, tool in enumerate(agent.tools):
                if facts.error is None and tool not in facts.functions:
                    hint = did_you_mean(tool, functions)
                    problems.append(
                        (
                            f"{path}.tools[{tool_index}]",
                            f"unknown tool {tool!r}: the code defines no such function{hint}",
                        )
                    )
        elif (
            isinstance(agent, FunctionAgentSpec)
            and facts.error is None
            and agent.function not in facts.functions
        ):
            hint = did_you_mean(agent.function, functions)
            problems.append(
                (
                    f"{path}.function",
                    f"unknown function {agent.function!r}: the code defines no such function{hint}",
                )
            )
        if isinstance(agent, RequestSpec):
            _check_request(genome, agent, path, problems)
        if isinstance(agent, RememberSpec) and agent.collection == SOLVED:
            problems.append(
                (
                    f"{path}.collection",
                    f"collection {SOLVED!r} holds the experiment's solved train items: a workflow only"
                    " recalls from it; remember into a collection of its own",
                )
            )
    for name, count in Counter(agent.name for agent in genome.agents).items():
        if count > 1:
            problems.append(("agents", f"agent {name!r} is defined {count} times"))


def _check_request(
    genome: WorkflowGenome, agent: RequestSpec, path: str, problems: list[tuple[str, str]]
) -> None:
    responder = genome.agent(agent.responder)
    if responder is None:
        known = [a.name for a in genome.agents if isinstance(a, LLMAgentSpec)]
        hint = did_you_mean(agent.responder, known)
        problems.append((f"{path}.responder", f"unknown responder {agent.responder!r}{hint}"))
    elif not isinstance(responder, LLMAgentSpec):
        problems.append(
            (
                f"{path}.responder",
                f"responder {agent.responder!r} is a {responder.kind} agent, not an LLM agent",
            )
        )
    if not agent.fields:
        problems.append((f"{path}.fields", "a subject's schema needs at least one field"))
    for index, name in enumerate(agent.fields):
        if not is_name(name):
            problems.append((f"{path}.fields[{index}]", f"{name!r} is not a Python name"))
    for name, count in Counter(agent.fields).items():
        if count > 1:
            problems.append((f"{path}.fields", f"field {name!r} is named {count} times"))


def _check_clashes(
    genome: WorkflowGenome, facts: CodeFacts, flows: FlowChecker, problems: list[tuple[str, str]]
) -> None:
    owners: dict[str, list[str]] = {}
    exported = exported_names(genome)
    for name in exported - PARAMETER_NAMES:
        owners.setdefault(name, []).append("a name the exported module uses")
    for agent in genome.agents:
        owners.setdefault(agent.name, []).append("an agent")
    for name in flows.task_names:
        owners.setdefault(name, []).append("a task")
    for name in sorted({name for name, _ in facts.names}):
        owners.setdefault(name, []).append("a name in the code")
    for name, what in sorted(owners.items()):
        kinds = list(dict.fromkeys(what))
        if len(kinds) > 1:
            problems.append(("names", f"{name!r} is used as {' and as '.join(kinds)}"))
    agents = {agent.name for agent in genome.agents}
    for name in sorted(flows.context_keys):
        if name in agents or name in exported:
            role = "an agent" if name in agents else "a name the exported module uses"
            problems.append(("names", f"{name!r} is an input or task output and also {role}"))
