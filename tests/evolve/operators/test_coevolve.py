"""Co-evolution of operator genomes: a step mutates operator genomes, scores them, emits lineage."""

from __future__ import annotations

import pickle
import random
from dataclasses import replace

import pytest

import search_spaces
from evoforum.errors import ConfigError
from evoforum.evolve.lineage import InMemoryLineage
from evoforum.evolve.operators import (
    OPERATOR_SPACE,
    CoEvolution,
    OperatorCandidate,
    OperatorContext,
    VariationPolicy,
    lmx_genome,
    rewrite_genome,
)
from evoforum.evolve.operators.coevolve import lineage_records
from evoforum.evolve.operators.llm_ops import llm_rewrite, make_rewrite
from evoforum.evolve.operators.operator_genomes import Transcribed
from evoforum.forum import InMemoryStore
from evoforum.genome import WorkflowGenome
from evoforum.llm import OpenAICompatible, Recording
from evoforum.tracking.ancestry import by_hash

from .conftest import population


def _fitness(genome: WorkflowGenome) -> float:
    """A toy fitness: shorter helper code is better."""
    return -len(genome.code) / 1000


async def test_a_step_produces_scored_mutated_operator_genomes(stub_llm: OpenAICompatible) -> None:
    context = OperatorContext(space=search_spaces.get("qa_ensemble"), llm=stub_llm)
    coevolution = CoEvolution(context)
    pool = population("qa_ensemble", 6)
    seeds = [OperatorCandidate(lmx_genome())]
    rng = random.Random(4)
    children: list[OperatorCandidate] = []
    survivors = seeds
    for generation in range(1, 4):
        survivors, made = await coevolution.step("lmx", survivors, pool, _fitness, rng, generation, trials=2)
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
    coevolution = CoEvolution(context)
    # whether the stub's rewrite of a prompt is usable depends on its seeded answers (which every
    # change of an operator prompt reshuffles): draw until one is, within a bounded number of tries
    made: list[tuple[WorkflowGenome, str] | None] = []
    for seed in range(8):
        rng = random.Random(seed)
        made += [await coevolution.mutate(rewrite_genome(), rng) for _ in range(30)]
        if any(found is not None and found[1] == "llm_rewrite" for found in made):
            break
    metas = {found[1] for found in made if found is not None}
    assert "llm_rewrite" in metas
    rewritten = [g for g, meta in (m for m in made if m is not None) if meta == "llm_rewrite"]
    assert all(OPERATOR_SPACE.check(g) == [] for g in rewritten)


def _pool(
    stub_llm: OpenAICompatible, sink: InMemoryLineage | None = None, every: int = 100
) -> tuple[VariationPolicy, CoEvolution]:
    context = OperatorContext(space=search_spaces.get("code_writing"), llm=stub_llm)
    pool = CoEvolution(context, {"llm_rewrite": "rewrite"}, seed=7, every=every, sinks=[sink] if sink else [])
    policy = VariationPolicy([llm_rewrite], context, weights={"llm_rewrite": 1.0}, coevolution=pool)
    return policy, pool


async def _child(policy: VariationPolicy, parent: WorkflowGenome, seed: int) -> WorkflowGenome:
    rng = random.Random(seed)
    for _ in range(20):
        child = await policy.mutate(parent, rng)
        if child.hash != parent.hash:
            return child
    raise AssertionError("the rewrite never made a valid child")


async def test_an_improvement_is_credited_to_the_operator_genome_that_made_the_child(
    stub_llm: OpenAICompatible,
) -> None:
    sink = InMemoryLineage()
    policy, pool = _pool(stub_llm, sink)
    parent = search_spaces.get("code_writing").seeds()[0]
    child = await _child(policy, parent, 1)
    population = pool.members["rewrite"]
    assert population[0].genome.hash == rewrite_genome().hash
    assert len(population) == pool.size
    assert all(OPERATOR_SPACE.check(m.genome) == [] for m in population)
    kind, maker = pool.pending[child.hash]
    assert kind == "rewrite"
    before = {m.genome.hash: (m.gain, m.trials) for m in population}
    await policy.observe(child, 0.75, 0.25)
    after = {m.genome.hash: (m.gain, m.trials) for m in population}
    gain, trials = before[maker]
    assert after[maker] == (gain + 0.5, trials + 1)
    assert {h: v for h, v in after.items() if h != maker} == {h: v for h, v in before.items() if h != maker}
    assert child.hash not in pool.pending
    born = list(by_hash(sink.records).values())
    assert [r.genome_hash for r in born if r.operator == "coevolve:seed"] == [rewrite_genome().hash]
    assert {r.genome_hash for r in born} == set(before)
    assert all(r.values == () and r.items == 0 for r in born)  # none was credited when it was made
    credit = sink.records[-1]  # the credit is a further record of the maker
    assert (credit.genome_hash, credit.items) == (maker, trials + 1)
    assert credit.values == ((gain + 0.5) / (trials + 1),)
    assert [r.index for r in sink.records] == list(range(len(sink.records)))


async def test_the_worst_operator_genome_is_replaced_by_a_mutation_of_the_best(
    stub_llm: OpenAICompatible,
) -> None:
    sink = InMemoryLineage()
    policy, pool = _pool(stub_llm, sink)
    await _child(policy, search_spaces.get("code_writing").seeds()[0], 2)
    population = pool.members["rewrite"]
    population[:] = [
        replace(m, gain=gain, trials=2) for m, gain in zip(population, (0.9, 0.1, -0.4), strict=True)
    ]
    best, middle, _ = population
    made = None
    for _ in range(10):
        made = await pool.replace_worst("rewrite")
        if made is not None:
            break
    assert made is not None, "no valid mutation of the best operator genome"
    assert pool.members["rewrite"] == [best, middle, made]
    assert made.parents == (best.genome.hash,)
    assert made.genome.hash != best.genome.hash
    assert OPERATOR_SPACE.check(made.genome) == []
    assert made.trials == 0
    record = sink.records[-1]
    assert record.genome_hash == made.genome.hash
    assert record.parents == (best.genome.hash,)
    assert record.operator == f"coevolve:{made.operator}"
    assert pool.summary()["rewrite"][2] == made.as_dict()


async def test_every_few_credited_trials_a_replacement_happens(stub_llm: OpenAICompatible) -> None:
    policy, pool = _pool(stub_llm, every=3)
    parent = search_spaces.get("code_writing").seeds()[0]
    rng = random.Random(5)
    for step in range(12):
        child = await policy.mutate(parent, rng)
        if child.hash != parent.hash:
            await policy.observe(child, 0.1 * (step % 4), 0.2)
    assert sum(pool.counts.values()) >= 3
    assert pool.rounds >= 1


async def test_the_state_round_trips_and_the_run_continues_identically(stub_llm: OpenAICompatible) -> None:
    policy, pool = _pool(stub_llm, every=2)
    parent = search_spaces.get("code_writing").seeds()[0]
    child = await _child(policy, parent, 3)
    await policy.observe(child, 0.5, 0.0)
    await _child(policy, parent, 4)  # one child still pending
    saved = pickle.loads(pickle.dumps(policy.state()))
    again, twin = _pool(stub_llm, every=2)
    again.restore(saved)
    assert again.state() == policy.state()
    assert twin.summary() == pool.summary()
    for step in range(3):
        one, two = (
            await policy.mutate(parent, random.Random(step)),
            await again.mutate(parent, random.Random(step)),
        )
        assert one.hash == two.hash
    assert again.state() == policy.state()


async def test_an_operator_genome_made_by_the_model_names_the_exchanges_it_was_made_in(
    stub_llm: OpenAICompatible,
) -> None:
    store = InMemoryStore()
    llm = Transcribed(Recording(stub_llm, store, "record"))
    context = OperatorContext(space=search_spaces.get("qa_ensemble"), llm=llm)
    coevolution = CoEvolution(context, meta_operators=(make_rewrite(),))
    pool = population("qa_ensemble", 3)
    children: list[OperatorCandidate] = []
    rng = random.Random(2)  # the stub's rewrite is valid by chance: this draw makes one in time
    for generation in range(1, 6):
        _, made = await coevolution.step(
            "rewrite", [OperatorCandidate(rewrite_genome())], pool, _fitness, rng, generation, trials=1
        )
        children += made
        if children:
            break
    assert children, "the rewrite never made a valid operator genome"
    child = children[0]
    assert child.operator == "llm_rewrite"
    assert child.transcripts
    for transcript in child.transcripts:  # each names an exchange as the recording stored it
        answer = await store.get(transcript)
        assert answer.sender == "assistant"
    [record] = lineage_records([child], start=0)
    assert record.transcripts == child.transcripts


async def test_mutations_without_a_model_call_name_no_transcript(stub_llm: OpenAICompatible) -> None:
    context = OperatorContext(space=search_spaces.get("code_writing"), llm=Transcribed(stub_llm))
    for seed in range(8):  # a pool whose members were made by a rewrite and by a plain mutation
        pool = CoEvolution(context, {"llm_rewrite": "rewrite"}, seed=seed, size=6)
        await pool.draw("llm_rewrite")
        members = pool.members["rewrite"]
        if {m.operator for m in members} >= {"seed", "llm_rewrite", "mut_prompt"}:
            break
    assert len(members) == 6
    assert {m.operator for m in members} >= {"seed", "llm_rewrite", "mut_prompt"}
    assert members[0].transcripts == ()
    for member in members[1:]:
        assert bool(member.transcripts) == (member.operator == "llm_rewrite"), member.operator
    assert pool.genome(members[1].genome.hash) == members[1].genome


def test_a_pool_needs_two_operator_genomes_and_a_replacement_interval(stub_llm: OpenAICompatible) -> None:
    context = OperatorContext(space=search_spaces.get("code_writing"), llm=stub_llm)
    with pytest.raises(ConfigError, match="at least 2"):
        CoEvolution(context, {"llm_rewrite": "rewrite"}, size=1)
    with pytest.raises(ConfigError, match="every 1 or more"):
        CoEvolution(context, {"llm_rewrite": "rewrite"}, every=0)
