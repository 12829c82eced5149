"""Co-evolution of operator genomes: a step mutates operator genomes, scores them, emits lineage."""

from __future__ import annotations

import random

import search_spaces
from evoforum.evolve.lineage import InMemoryLineage
from evoforum.evolve.operators import (
    OPERATOR_SPACE,
    CoEvolution,
    OperatorCandidate,
    OperatorContext,
    lineage_records,
    lmx_genome,
    rewrite_genome,
)
from evoforum.genome import WorkflowGenome
from evoforum.llm import OpenAICompatible

from .conftest import population


def _fitness(genome: WorkflowGenome) -> float:
    """A toy fitness: shorter helper code is better."""
    return -len(genome.code) / 1000


async def test_a_step_produces_scored_mutated_operator_genomes(stub_llm: OpenAICompatible) -> None:
    context = OperatorContext(space=search_spaces.get("qa_ensemble"), llm=stub_llm)
    coevolution = CoEvolution("lmx", context, _fitness, trials=2)
    pool = population("qa_ensemble", 6)
    seeds = [OperatorCandidate(lmx_genome())]
    rng = random.Random(4)
    children: list[OperatorCandidate] = []
    survivors = seeds
    for generation in range(1, 4):
        survivors, made = await coevolution.step(survivors, pool, rng, generation)
        children += made
    assert children, "no operator genome was mutated"
    for child in children:
        assert OPERATOR_SPACE.check(child.genome) == []
        assert child.genome.hash != lmx_genome().hash
        assert child.score is not None
        assert child.parents
    assert len(survivors) == 1
    assert survivors[0].score is not None
    assert survivors[0].score == max(c.score or 0.0 for c in [*children, *survivors])
    sink = InMemoryLineage()
    sink.emit(lineage_records(children, start=0))
    assert [r.genome_hash for r in sink.records] == [c.genome.hash for c in children]
    assert all(r.operator.startswith("coevolve:") for r in sink.records)


async def test_the_rewrite_operator_is_its_own_meta_operator(stub_llm: OpenAICompatible) -> None:
    context = OperatorContext(space=search_spaces.get("qa_ensemble"), llm=stub_llm)
    coevolution = CoEvolution("rewrite", context, _fitness, trials=1)
    rng = random.Random(0)
    made = [await coevolution.mutate(rewrite_genome(), rng) for _ in range(30)]
    metas = {found[1] for found in made if found is not None}
    assert "llm_rewrite" in metas
    rewritten = [g for g, meta in (m for m in made if m is not None) if meta == "llm_rewrite"]
    assert all(OPERATOR_SPACE.check(g) == [] for g in rewritten)
