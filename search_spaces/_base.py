"""What every search space has: building blocks, seeds, constraints, random genomes, checks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
from pydantic import Field

from evoforum.errors import ConfigError, GenomeInvalid, did_you_mean
from evoforum.genome import (
    Constraints,
    FromInputSpec,
    FromTaskSpec,
    LLMAgentSpec,
    TaskSpec,
    WireSpec,
    WorkflowGenome,
)
from evoforum.genome._base import Frozen

if TYPE_CHECKING:
    from evoforum.evolve.operators import Operator

T = TypeVar("T")


class BuildingBlocks(Frozen):
    """The parts genomes of a space are made of (operators may recombine them too).

    ``tools`` maps a function name to its source; ``system_prompts`` and ``prompt_fragments`` are
    text a genome's prompts are assembled from; ``agent_templates`` and ``task_templates`` are the
    agents and tasks genomes of the space are made from (by name, with some fields changed).
    """

    models: tuple[str, ...]
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.5, 0.8)
    system_prompts: tuple[str, ...] = ()
    prompt_fragments: tuple[str, ...] = ()
    agent_templates: tuple[LLMAgentSpec, ...] = ()
    tools: dict[str, str] = Field(default_factory=dict)
    task_templates: tuple[TaskSpec, ...] = ()
    examples: tuple[str, ...] = ()
    """Few-shot blocks (solved train problems) a prompt may begin with, each ended by a blank line
    there (``mut_examples`` adds or drops one)."""

    def agent(self, template: str, /, **changes: Any) -> LLMAgentSpec:
        """The agent template called ``template``, with ``changes``."""
        found = next(a for a in self.agent_templates if a.name == template)
        return found.model_copy(update=changes)

    def task(self, template: str, /, **changes: Any) -> TaskSpec:
        """The task template called ``template``, with ``changes``."""
        found = next(t for t in self.task_templates if t.name == template)
        return found.model_copy(update=changes)


class SearchSpace(ABC):
    """A search space. Subclasses define ``name``, ``blocks``, ``constraints``, seeds and a generator."""

    name: str
    blocks: BuildingBlocks
    constraints: Constraints
    recalls: bool = False
    """Whether the space's genomes may recall solved train items from the run's memory: its
    experiment gave some (the run stores them there); ``mut_recall`` adds recall steps only then."""

    option_names: ClassVar[tuple[str, ...]] = ()
    """The options the space takes (``search_space.options``)."""

    def operators(self) -> tuple[Operator, ...]:
        """Mutations (one parent) and crossovers (two) of this space's own, beside the genome's: a
        run draws them in the ``mutate`` and ``crossover`` groups. (Imported when asked for: the
        data model of a space does not load the evolution engine.)"""
        return ()

    def __init__(
        self, examples: Sequence[tuple[str, str]] | None = None, options: Mapping[str, Any] | None = None
    ) -> None:
        """``examples``: solved train items ``(problem, solution)`` for few-shot prompts; this
        space shows none (spaces that do override this). ``options``: the config's
        ``search_space.options``, each one of ``option_names`` (else ``ConfigError``)."""
        del examples
        self.options = dict(options or {})
        for key in self.options:
            if key not in self.option_names:
                known = ", ".join(self.option_names) or "none"
                raise ConfigError(
                    f"search_space.options.{key}: unknown option of {self.name!r}"
                    f"{did_you_mean(key, self.option_names)}; known: {known}"
                )

    def probability(self, key: str, default: float) -> float:
        """The option ``key`` as a probability (``default`` when not given; ``ConfigError``
        unless a number from 0 to 1)."""
        value = self.options.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ConfigError(f"search_space.options.{key}: a probability from 0 to 1, not {value!r}")
        return float(value)

    def repair(self, genome: WorkflowGenome) -> WorkflowGenome | None:
        """``genome`` made valid where this space knows how (an operator's invalid child goes
        through it before it is counted invalid); None: no repair (the default)."""
        del genome
        return None

    @abstractmethod
    def seeds(self) -> tuple[WorkflowGenome, ...]:
        """Hand-written starting genomes."""

    @abstractmethod
    def _generate(self, rng: np.random.Generator) -> WorkflowGenome:
        """One random genome (``random_genome`` checks it)."""

    def random_genome(self, rng: np.random.Generator) -> WorkflowGenome:
        """A random valid genome; the same generator state gives the same genome."""
        genome = self._generate(rng)
        problems = self.check(genome)
        if problems:
            raise GenomeInvalid(f"random genome of space {self.name!r}", problems)
        return genome

    def check(self, genome: WorkflowGenome) -> list[tuple[str, str]]:
        """Every problem of ``genome``: its own validity, then this space's constraints."""
        return [*genome.problems(), *self.constraints.check(genome)]


def pick(rng: np.random.Generator, options: Sequence[T]) -> T:
    """One of ``options``, drawn from ``rng``."""
    return options[int(rng.integers(len(options)))]


def chance(rng: np.random.Generator, probability: float) -> bool:
    """True with ``probability``."""
    return bool(rng.random() < probability)


def system_prompt(rng: np.random.Generator, blocks: BuildingBlocks, base: str) -> str:
    """``base`` followed by one to three distinct prompt fragments."""
    count = int(rng.integers(1, min(3, len(blocks.prompt_fragments)) + 1))
    chosen = rng.choice(len(blocks.prompt_fragments), size=count, replace=False)
    return " ".join([base, *(blocks.prompt_fragments[int(i)] for i in sorted(chosen))])


def code_of(blocks: BuildingBlocks, names: Sequence[str], header: str = "") -> str:
    """The module source of the named tools (in that order), after an import ``header``."""
    parts = [header.strip()] if header.strip() else []
    parts.extend(blocks.tools[name].strip() for name in names)
    return "\n\n\n".join(parts) + "\n"


def wire(parameter: str, source: str, *, task: bool = False, field: str | None = None) -> WireSpec:
    """A wire from an input (default) or from an upstream task's output."""
    if task:
        return WireSpec(parameter=parameter, source=FromTaskSpec(task=source, field=field))
    return WireSpec(parameter=parameter, source=FromInputSpec(name=source))
