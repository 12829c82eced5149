"""Constraints a search space puts on genomes: size, models, imports in the code."""

from __future__ import annotations

from pydantic import Field

from evoforum.genome._base import Frozen
from evoforum.genome._code import read_code
from evoforum.genome.agents import LLMAgentSpec
from evoforum.genome.flows import DagSpec, MachineSpec, walk
from evoforum.genome.model import WorkflowGenome


class Constraints(Frozen):
    """Limits of a search space. Empty ``allowed_models`` allows any model; ``allowed_imports``
    None allows any import (an empty tuple allows none)."""

    max_tasks: int = Field(default=12, ge=1)
    max_states: int = Field(default=8, ge=1)
    max_agents: int = Field(default=8, ge=1)
    max_code_lines: int = Field(default=200, ge=0)
    allowed_models: tuple[str, ...] = ()
    allowed_imports: tuple[str, ...] | None = ()

    def check(self, genome: WorkflowGenome) -> list[tuple[str, str]]:
        """Every way ``genome`` breaks these constraints, as ``(path, what)``."""
        problems: list[tuple[str, str]] = []
        parts = walk(genome.entry)
        tasks = sum(len(body.tasks) for _, body in parts if isinstance(body, DagSpec))
        states = sum(len(body.states) for _, body in parts if isinstance(body, MachineSpec))
        if tasks > self.max_tasks:
            problems.append(("entry", f"{tasks} tasks, more than the {self.max_tasks} allowed"))
        if states > self.max_states:
            problems.append(("entry", f"{states} states, more than the {self.max_states} allowed"))
        if len(genome.agents) > self.max_agents:
            problems.append(
                ("agents", f"{len(genome.agents)} agents, more than the {self.max_agents} allowed")
            )
        for index, agent in enumerate(genome.agents):
            if (
                isinstance(agent, LLMAgentSpec)
                and self.allowed_models
                and agent.model not in self.allowed_models
            ):
                allowed = ", ".join(self.allowed_models)
                problems.append(
                    (f"agents[{index}].model", f"model {agent.model!r} is not allowed ({allowed})")
                )
        lines = len(genome.code.splitlines())
        if lines > self.max_code_lines:
            problems.append(("code", f"{lines} lines, more than the {self.max_code_lines} allowed"))
        if self.allowed_imports is not None:
            for module, line in read_code(genome.code).imports:
                if module not in self.allowed_imports:
                    problems.append(("code", f"line {line}: import of {module!r} is not allowed"))
        return problems
