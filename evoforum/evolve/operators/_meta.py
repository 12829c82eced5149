"""The meta-level steps of ``CoEvolution``: mutating an operator genome and measuring it.

An operator genome is mutated with the machinery that mutates workflow genomes (the structural
parameter and prompt mutations over ``OPERATOR_SPACE`` and the LLM rewrite itself), and measured
by the improvement the children its operator makes show over their best parent.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import replace

from evoforum.evolve.operators.base import Operator, vary
from evoforum.evolve.operators.context import OperatorContext, OperatorStats
from evoforum.evolve.operators.llm_ops import make_lmx, make_rewrite
from evoforum.evolve.operators.operator_genomes import LMX, OPERATOR_SPACE
from evoforum.evolve.operators.structural import mut_prompt, mut_temperature
from evoforum.genome import WorkflowGenome

Fitness = Callable[[WorkflowGenome], float]


def meta_operators() -> tuple[Operator, ...]:
    """The operators that mutate operator genomes by default."""
    return (mut_prompt, mut_temperature, make_rewrite())


def kind_operator(kind: str) -> Operator:
    """The LLM operator an operator genome of ``kind`` describes."""
    return make_lmx(2, "code", "lmx_candidate") if kind == LMX else make_rewrite("rewrite_candidate")


async def mutate(
    metas: Sequence[Operator], context: OperatorContext, genome: WorkflowGenome, rng: random.Random
) -> tuple[WorkflowGenome, str] | None:
    """One mutation of ``genome`` (checked against ``OPERATOR_SPACE``) by a drawn meta-operator,
    and that meta-operator's name; None when it produced nothing valid."""
    meta = metas[rng.randrange(len(metas))]
    context = replace(
        context, space=OPERATOR_SPACE, scores={}, items={}, transcripts={}, summaries={}, memory=None
    )
    children = await vary(meta, [genome], rng, context)
    return (children[0], meta.name) if children else None


async def improvement(
    context: OperatorContext,
    kind: str,
    genome: WorkflowGenome,
    pool: Sequence[WorkflowGenome],
    fitness: Fitness,
    trials: int,
    rng: random.Random,
) -> tuple[float, float]:
    """The summed improvement of ``trials`` children of the operator ``genome`` describes over
    their best parent (an invalid or missing child counts as none), and its invalid rate."""
    stats = OperatorStats()
    context = replace(context, operator_genomes={**context.operator_genomes, kind: genome}, stats=stats)
    op = kind_operator(kind)
    gains = []
    for _ in range(trials):
        parents = rng.sample(list(pool), op.arity)
        children = await vary(op, parents, rng, context)
        best = max(fitness(p) for p in parents)
        gains.append(max((fitness(c) - best for c in children), default=0.0))
    return sum(gains), stats.invalid_rate(op.name)
