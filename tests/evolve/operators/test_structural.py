"""Structural mutation and crossover: valid children only, deterministic per seed, invalid counted."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

import search_spaces
from evoforum.evolve.operators import STRUCTURAL, Operator, OperatorContext, operator
from evoforum.evolve.operators.crossover import cx_agents
from evoforum.evolve.operators.structural import MAX_TOKENS_LADDER, mut_add_task, mut_max_tokens
from evoforum.genome import DagSpec, LLMAgentSpec, WorkflowGenome
from tests.genome.helpers import machine

from .conftest import SPACES, population

SOLVED = (("def one():\n    'One.'\n", "def one():\n    return 1\n"),)
"""A solved train item, so the spaces may recall (``mut_recall`` adds steps only then)."""


async def _run(op: Operator, space: str, seed: int, tries: int = 25) -> tuple[list[str], OperatorContext]:
    context = OperatorContext(space=search_spaces.get(space, SOLVED))
    pool = population(space)
    rng = random.Random(seed)
    hashes = []
    for _ in range(tries):
        children = await op(rng.sample(pool, op.arity), rng, context)
        for child in children:
            assert context.check(child) == []
            hashes.append(child.hash)
    return hashes, context


@pytest.mark.parametrize("op", STRUCTURAL, ids=lambda op: op.name)
async def test_operator_gives_valid_children_deterministically(op: Operator) -> None:
    produced = 0
    for space in SPACES:
        first, context = await _run(op, space, seed=11)
        again, _ = await _run(op, space, seed=11)
        assert first == again
        produced += len(first)
        counts = context.stats.of(op.name)
        assert counts.calls == 25
        assert counts.children == len(first)
    assert produced > 0, f"{op.name} never produced a valid child"


async def test_children_differ_from_parents_and_record_their_origin() -> None:
    parent = population("qa_ensemble")[0]
    context = OperatorContext(space=search_spaces.get("qa_ensemble"))
    [child] = await mut_add_task([parent], random.Random(3), context)
    assert child.hash != parent.hash
    assert child.metadata.origin["operator"] == "mut_add_task"
    assert child.metadata.origin["parents"] == [parent.hash]
    assert len(child.agents) == len(parent.agents) + 1


@operator("break_it")
def _break_it(
    parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext
) -> list[WorkflowGenome]:
    valid = parents[0].model_copy(update={"inputs": ("question", "context")})
    return [parents[0].model_copy(update={"entry": DagSpec(tasks=())}), valid, parents[0]]


async def test_invalid_children_are_dropped_and_counted() -> None:
    parent = population("qa_ensemble")[0]
    context = OperatorContext(space=search_spaces.get("qa_ensemble"))
    children = await _break_it([parent], random.Random(0), context)
    assert [c.inputs for c in children] == [("question", "context")]
    counts = context.stats.of("break_it")
    assert (counts.invalid, counts.children, counts.unchanged, counts.invalid_rate) == (1, 1, 1, 0.5)
    assert context.stats.as_dict()["break_it"]["problems"]


async def test_a_repair_hook_can_save_an_invalid_child() -> None:
    parent = population("qa_ensemble")[0]
    other = population("qa_ensemble")[1]
    context = OperatorContext(space=search_spaces.get("qa_ensemble"), repair=lambda child: other)
    children = await _break_it([parent], random.Random(0), context)
    assert len(children) == 2
    assert context.stats.of("break_it").repaired == 1


async def test_constraints_of_the_space_are_enforced() -> None:
    space = search_spaces.get("qa_ensemble")
    context = OperatorContext(space=space)
    genome = population("qa_ensemble")[1]
    rng = random.Random(0)
    for _ in range(20):
        children = await mut_add_task([genome], rng, context)
        if not children:
            break
        genome = children[0]
    tasks = sum(len(b.tasks) for b in _dags(genome))
    assert tasks <= space.constraints.max_tasks
    assert context.stats.of("mut_add_task").invalid > 0


def _dags(genome: WorkflowGenome) -> list[DagSpec]:
    from evoforum.genome.flows import walk

    return [b for _, b in walk(genome.entry) if isinstance(b, DagSpec)]


@pytest.mark.parametrize("space", SPACES)
async def test_mut_max_tokens_moves_one_agents_cap_along_the_ladder(space: str) -> None:
    context = OperatorContext(space=search_spaces.get(space))
    rng = random.Random(5)
    caps = set()
    for parent in population(space):
        genome = parent
        for _ in range(4):  # children of children too: a cap already set moves on
            [child] = await mut_max_tokens([genome], rng, context)
            assert context.check(child) == []
            changed = [(a, b) for a, b in zip(genome.agents, child.agents, strict=True) if a != b]
            assert len(changed) == 1
            before, after = changed[0]
            assert isinstance(before, LLMAgentSpec)
            assert isinstance(after, LLMAgentSpec)
            assert after.max_tokens != before.max_tokens
            assert after.max_tokens in MAX_TOKENS_LADDER
            assert after.model_copy(update={"max_tokens": before.max_tokens}) == before
            assert (child.inputs, child.code, child.entry) == (genome.inputs, genome.code, genome.entry)
            caps.add(after.max_tokens)
            genome = child
    assert caps == set(MAX_TOKENS_LADDER)


async def test_mut_max_tokens_leaves_a_genome_without_llm_agents_alone() -> None:
    context = OperatorContext(space=search_spaces.get("qa_ensemble"))
    assert await mut_max_tokens([machine()], random.Random(0), context) == []


async def test_a_refiner_inherits_the_cap_of_the_agent_it_refines() -> None:
    parent = population("qa_ensemble")[0]
    agents = tuple(
        a.model_copy(update={"max_tokens": 256}) if isinstance(a, LLMAgentSpec) else a for a in parent.agents
    )
    context = OperatorContext(space=search_spaces.get("qa_ensemble"))
    [child] = await mut_add_task([parent.model_copy(update={"agents": agents})], random.Random(3), context)
    refiner = child.agents[-1]
    assert isinstance(refiner, LLMAgentSpec)
    assert refiner.name.startswith("refiner")
    assert refiner.max_tokens == 256


async def test_cx_agents_exchanges_token_caps() -> None:
    parent = population("qa_ensemble")[0]
    name = next(a.name for a in parent.agents if isinstance(a, LLMAgentSpec))

    def variant(cap: int, prompt: str, temperature: float) -> WorkflowGenome:
        update = {"max_tokens": cap, "system_prompt": prompt, "temperature": temperature}
        agents = tuple(a.model_copy(update=update) if a.name == name else a for a in parent.agents)
        return parent.model_copy(update={"agents": agents})

    context = OperatorContext(space=search_spaces.get("qa_ensemble"))
    rng = random.Random(0)
    first_caps = set()
    for _ in range(20):
        children = await cx_agents([variant(256, "A.", 0.2), variant(768, "B.", 0.8)], rng, context)
        if children:
            one, two = (child.agent(name) for child in children)
            assert isinstance(one, LLMAgentSpec)
            assert isinstance(two, LLMAgentSpec)
            assert {one.max_tokens, two.max_tokens} == {256, 768}
            first_caps.add(one.max_tokens)
    assert first_caps == {256, 768}  # the first parent's agent kept its cap, and took the other's
