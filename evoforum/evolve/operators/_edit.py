"""Helpers for editing frozen genomes: finding and replacing DAGs and machines by position; and
the fenced code blocks operators show a model and read back from its answer."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import TypeVar

from evoforum.genome import (
    DagSpec,
    FromInputSpec,
    FromTaskSpec,
    LLMAgentSpec,
    MachineSpec,
    TaskSpec,
    WorkflowGenome,
)
from evoforum.genome.edits import fresh as fresh  # the genome's own edits, for the operators
from evoforum.genome.edits import prune_agents as prune_agents
from evoforum.genome.edits import referenced_agents as referenced_agents
from evoforum.genome.edits import rewired as rewired
from evoforum.genome.flows import Trail, bodies, replaced

Body = DagSpec | MachineSpec

T = TypeVar("T")


def dags(genome: WorkflowGenome) -> list[tuple[Trail, DagSpec]]:
    return [(t, b) for t, b in bodies(genome.entry) if isinstance(b, DagSpec)]


def machines(genome: WorkflowGenome) -> list[tuple[Trail, MachineSpec]]:
    return [(t, b) for t, b in bodies(genome.entry) if isinstance(b, MachineSpec)]


def with_body(genome: WorkflowGenome, trail: Trail, new: Body) -> WorkflowGenome:
    return genome.model_copy(update={"entry": replaced(genome.entry, trail, new)})


def llm_agents(genome: WorkflowGenome) -> list[LLMAgentSpec]:
    return [a for a in genome.agents if isinstance(a, LLMAgentSpec)]


def with_agent(genome: WorkflowGenome, agent: LLMAgentSpec) -> WorkflowGenome:
    """``genome`` with the agent of the same name replaced by ``agent``."""
    agents = tuple(agent if a.name == agent.name else a for a in genome.agents)
    return genome.model_copy(update={"agents": agents})


def consumers(dag: DagSpec, task: str) -> list[TaskSpec]:
    return [
        t
        for t in dag.tasks
        if any(isinstance(w.source, FromTaskSpec) and w.source.task == task for w in t.inputs)
    ]


def values_read(genome: WorkflowGenome) -> set[str]:
    return {
        w.source.name
        for _, part in dags(genome)
        for t in part.tasks
        for w in t.inputs
        if isinstance(w.source, FromInputSpec)
    }


def choose(rng: random.Random, options: Sequence[T]) -> T | None:
    """One of ``options`` drawn from ``rng``, or None when there is none."""
    return options[rng.randrange(len(options))] if options else None


_OPENING = re.compile(r"^[ \t]*(`{3,})[ \t]*([\w.+-]*)[^`\n]*$")


def fenced_blocks(text: str) -> list[str]:
    """The fenced code blocks of a model's answer, in order (Markdown's rules, as CommonMark has them).

    A block opens with a line of three or more backticks (and an optional language) and closes
    with a line of backticks alone, at least as many as opened it; a backtick run inside a line of
    code (a regular expression, a string) never closes it. A block left open runs to the end of
    the answer (a reply cut off by its token limit).
    """
    blocks: list[str] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = _OPENING.match(lines[index])
        index += 1
        if opening is None:
            continue
        width = len(opening[1])
        body: list[str] = []
        while index < len(lines):
            line = lines[index].strip()
            index += 1
            if len(line) >= width and set(line) == {"`"}:
                break
            body.append(lines[index - 1])
        blocks.append("\n".join(body) + "\n" if body else "")
    return blocks


def fence(text: str, language: str = "") -> str:
    """``text`` in a fenced block whose fence is longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    marks = "`" * max(3, longest + 1)
    return f"{marks}{language}\n{text.rstrip()}\n{marks}"
