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
from evoforum.genome.agents import FunctionAgentSpec, LLMAgentSpec

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
    for name, count in Counter(agent.name for agent in genome.agents).items():
        if count > 1:
            problems.append(("agents", f"agent {name!r} is defined {count} times"))


def _check_clashes(
    genome: WorkflowGenome, facts: CodeFacts, flows: FlowChecker, problems: list[tuple[str, str]]
) -> None:
    owners: dict[str, list[str]] = {}
    for name in EXPORT_NAMES:
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
        if name in agents or name in PARAMETER_NAMES or name in EXPORT_NAMES:
            role = "an agent" if name in agents else "a name the exported module uses"
            problems.append(("names", f"{name!r} is an input or task output and also {role}"))
