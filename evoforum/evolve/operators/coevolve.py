"""Co-evolution of the LLM operators (Promptbreeder-style self-modification).

Operator genomes are mutated with the same machinery as workflow genomes: the structural
parameter and prompt mutations over ``OPERATOR_SPACE`` and the LLM rewrite itself (the rewrite
operator rewriting an operator's prompt). An operator genome is scored by the improvement the
children it makes show over their parents on a fitness function; the scored candidates are kept
(mu + lambda) and can be emitted as lineage records like any candidate: a record's transcripts
are the message-tree hashes of the model calls its mutation made (noted by ``Transcribed`` in
the model client's stack), its values the score (none before it is scored) and its items the
trials the score rests on.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from evoforum.evolve.lineage import LineageRecord
from evoforum.evolve.operators.base import Operator, vary
from evoforum.evolve.operators.context import OperatorContext, OperatorStats
from evoforum.evolve.operators.llm_ops import make_lmx, make_rewrite
from evoforum.evolve.operators.operator_genomes import LMX, OPERATOR_SPACE, noting_exchanges
from evoforum.evolve.operators.structural import mut_prompt, mut_temperature
from evoforum.genome import WorkflowGenome

Fitness = Callable[[WorkflowGenome], float]
COEVOLVE = "coevolve"


@dataclass(frozen=True)
class OperatorCandidate:
    """An operator genome with its score (None until scored) and where it came from."""

    genome: WorkflowGenome
    score: float | None = None
    parents: tuple[str, ...] = ()
    operator: str = "seed"
    generation: int = 0
    trials: int = 0
    invalid_rate: float = 0.0
    transcripts: tuple[str, ...] = ()


@dataclass
class CoEvolution:
    """Evolves the operator genome of one LLM operator kind (``"lmx"`` or ``"rewrite"``)."""

    kind: str
    context: OperatorContext
    fitness: Fitness
    trials: int = 4
    meta_operators: Sequence[Operator] = field(
        default_factory=lambda: (mut_prompt, mut_temperature, make_rewrite())
    )

    def _operator(self) -> Operator:
        return make_lmx(2, "code", "lmx_candidate") if self.kind == LMX else make_rewrite("rewrite_candidate")

    async def mutate(self, genome: WorkflowGenome, rng: random.Random) -> tuple[WorkflowGenome, str] | None:
        """One mutated operator genome (checked against ``OPERATOR_SPACE``) and the meta-operator
        that made it; None when the drawn meta-operator produced nothing valid."""
        meta = self.meta_operators[rng.randrange(len(self.meta_operators))]
        context = replace(self.context, space=OPERATOR_SPACE, scores={}, transcripts={}, memory=None)
        children = await vary(meta, [genome], rng, context)
        return (children[0], meta.name) if children else None

    async def score(
        self, genome: WorkflowGenome, pool: Sequence[WorkflowGenome], rng: random.Random
    ) -> OperatorCandidate:
        """``genome`` scored by the mean improvement of its children over their best parent
        (an invalid or missing child counts as no improvement)."""
        stats = OperatorStats()
        context = replace(
            self.context, operator_genomes={**self.context.operator_genomes, self.kind: genome}, stats=stats
        )
        op = self._operator()
        gains = []
        for _ in range(self.trials):
            parents = rng.sample(list(pool), op.arity)
            children = await vary(op, parents, rng, context)
            best = max(self.fitness(p) for p in parents)
            gains.append(max((self.fitness(c) - best for c in children), default=0.0))
        rate = stats.invalid_rate(op.name)
        return OperatorCandidate(genome, sum(gains) / len(gains), trials=self.trials, invalid_rate=rate)

    async def step(
        self,
        population: Sequence[OperatorCandidate],
        pool: Sequence[WorkflowGenome],
        rng: random.Random,
        generation: int,
    ) -> tuple[list[OperatorCandidate], list[OperatorCandidate]]:
        """One generation: score the unscored, mutate each member once, score the children and
        keep the best ``len(population)``. Returns (survivors, the new children)."""
        scored = [c if c.score is not None else await self._rescore(c, pool, rng) for c in population]
        children = []
        for member in scored:
            with noting_exchanges() as transcripts:
                made = await self.mutate(member.genome, rng)
            if made is None:
                continue
            genome, meta = made
            found = await self.score(genome, pool, rng)
            children.append(
                replace(
                    found,
                    parents=(member.genome.hash,),
                    operator=meta,
                    generation=generation,
                    transcripts=tuple(transcripts),
                )
            )
        ranked = sorted([*scored, *children], key=lambda c: -(c.score or 0.0))
        return ranked[: len(population)], children

    async def _rescore(
        self, candidate: OperatorCandidate, pool: Sequence[WorkflowGenome], rng: random.Random
    ) -> OperatorCandidate:
        found = await self.score(candidate.genome, pool, rng)
        return replace(candidate, score=found.score, trials=found.trials, invalid_rate=found.invalid_rate)


def lineage_records(
    candidates: Sequence[OperatorCandidate], start: int, island: int = 0
) -> list[LineageRecord]:
    """Lineage records of operator candidates (for any ``LineageSink``), numbered from ``start``."""
    return [
        LineageRecord(
            index=start + i,
            genome_hash=c.genome.hash,
            parents=c.parents,
            operator=f"{COEVOLVE}:{c.operator}",
            generation=c.generation,
            island=island,
            values=(c.score,) if c.score is not None else (),
            items=c.trials,
            transcripts=c.transcripts,
        )
        for i, c in enumerate(candidates)
    ]
