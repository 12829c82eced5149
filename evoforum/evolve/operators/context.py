"""What an operator is given besides its parents and its generator, and what it reports back.

``OperatorContext`` carries the search space (its building blocks and constraints), the language
model for the LLM operators, the edit memory, what is known about the parents (scores and the
items behind them, excerpts of a failing item, one-line summaries: in a run, the mappings of the
engine-fed ``Feedback``) and the ``OperatorStats`` every operator writes its counts into.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from evoforum.genome import Constraints, WorkflowGenome

if TYPE_CHECKING:
    from evoforum.evolve.operators.edit_memory import EditMemory
    from evoforum.llm import LLMClient


class Space(Protocol):
    """A search space as operators see it: building blocks, constraints and a full check."""

    name: str
    blocks: Any
    constraints: Constraints

    def check(self, genome: WorkflowGenome) -> list[tuple[str, str]]: ...


@dataclass
class OperatorCounts:
    """The counts of one operator."""

    calls: int = 0
    children: int = 0
    invalid: int = 0
    repaired: int = 0
    unchanged: int = 0
    failures: int = 0
    tokens: int = 0
    problems: dict[str, int] = field(default_factory=dict)
    targets: dict[str, int] = field(default_factory=dict)
    """What the calls aimed at, valid child or not (the LLM rewrite: ``prompt:agent.field`` or
    ``function:name``)."""

    @property
    def attempted(self) -> int:
        """Children proposed (valid, repaired and invalid)."""
        return self.children + self.invalid

    @property
    def invalid_rate(self) -> float:
        """The share of proposed children that were invalid (0 when none was proposed)."""
        return self.invalid / self.attempted if self.attempted else 0.0


@dataclass
class OperatorStats:
    """Counts per operator name, for logging: ``stats.as_dict()`` is plain JSON."""

    counts: dict[str, OperatorCounts] = field(default_factory=dict)

    def of(self, name: str) -> OperatorCounts:
        return self.counts.setdefault(name, OperatorCounts())

    def invalid_rate(self, name: str) -> float:
        return self.of(name).invalid_rate

    def state(self) -> dict[str, dict[str, Any]]:
        """The counts as plain data, for a checkpoint (``restore`` takes them back)."""
        return {
            name: {**vars(c), "problems": dict(c.problems), "targets": dict(c.targets)}
            for name, c in self.counts.items()
        }

    def restore(self, state: Mapping[str, Mapping[str, Any]]) -> None:
        self.counts = {name: OperatorCounts(**counts) for name, counts in state.items()}

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {
            name: {
                "calls": c.calls,
                "children": c.children,
                "invalid": c.invalid,
                "repaired": c.repaired,
                "unchanged": c.unchanged,
                "failures": c.failures,
                "tokens": c.tokens,
                "invalid_rate": round(c.invalid_rate, 4),
                "problems": dict(sorted(c.problems.items(), key=lambda kv: -kv[1])[:5]),
                **({"targets": dict(sorted(c.targets.items()))} if c.targets else {}),
            }
            for name, c in sorted(self.counts.items())
        }


@dataclass
class OperatorContext:
    """Everything an operator may use. ``scores``, ``items`` (how many items a score rests on),
    ``transcripts`` (a short excerpt of a failing item) and ``summaries`` (one line per genome,
    for the archive of the best) are keyed by genome hash. ``operator_genomes`` replaces the
    default genomes that describe the LLM operators (see ``operator_genomes``)."""

    space: Space
    llm: LLMClient | None = None
    model: str = "stub"
    memory: EditMemory | None = None
    scores: Mapping[str, float] = field(default_factory=dict)
    transcripts: Mapping[str, str] = field(default_factory=dict)
    items: Mapping[str, int] = field(default_factory=dict)
    summaries: Mapping[str, str] = field(default_factory=dict)
    stats: OperatorStats = field(default_factory=OperatorStats)
    operator_genomes: dict[str, WorkflowGenome] = field(default_factory=dict)
    repair: Callable[[WorkflowGenome], WorkflowGenome | None] | None = None

    def check(self, genome: WorkflowGenome) -> list[tuple[str, str]]:
        """Every problem of ``genome``: its validity and the space's constraints."""
        return self.space.check(genome)
