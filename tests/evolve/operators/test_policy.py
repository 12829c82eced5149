"""The bandit policy as the engine's operators: valid children, bandit paid, lineage names kept."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import search_spaces
from evoforum.errors import Timeout
from evoforum.evolve import Engine, InMemoryLineage, LocalEvaluator, MuPlusLambda
from evoforum.evolve.individual import FAILED
from evoforum.evolve.operators import CODE_GP, EditMemory, OperatorBandit, OperatorContext, VariationPolicy
from evoforum.evolve.operators.base import Operator, operator
from evoforum.evolve.operators.crossover import cx_agents
from evoforum.evolve.operators.edit_memory import EDIT_KEY
from evoforum.evolve.operators.structural import mut_prompt, mut_temperature
from evoforum.genome import LLMAgentSpec, Metadata, WorkflowGenome
from evoforum.memory import MemoryVectorStore, SemanticMemory

SPACE = search_spaces.get("qa_ensemble")


def toy(genome: WorkflowGenome, item: str, seed: int) -> tuple[float]:
    """Higher temperature and longer system prompts score higher (a toy objective)."""
    agents = [a for a in genome.agents if isinstance(a, LLMAgentSpec)]
    return (sum(a.temperature + len(a.system_prompt) / 100 for a in agents) / max(1, len(agents)),)


def _init(rng: random.Random) -> WorkflowGenome:
    return SPACE.random_genome(np.random.default_rng(rng.randrange(2**32)))


async def test_policy_runs_in_the_engine_and_only_valid_children_are_evaluated() -> None:
    seen: list[WorkflowGenome] = []

    def fitness(genome: WorkflowGenome, item: str, seed: int) -> tuple[float]:
        assert SPACE.check(genome) == []
        seen.append(genome)
        return toy(genome, item, seed)

    context = OperatorContext(space=SPACE)
    policy = VariationPolicy([mut_temperature, mut_prompt, *CODE_GP, cx_agents], context)
    engine = Engine(
        operators=policy.engine_operators(_init),
        algorithm=MuPlusLambda(mu=4, lambda_=6),
        evaluator=LocalEvaluator(fitness),
        items=["0"],
        weights=(1.0,),
        generations=3,
        seed=3,
    )
    result = await engine.run()
    assert result.evaluations > 4
    operators = {g.metadata.origin.get("operator") for g in seen} - {None, "random"}
    assert operators
    assert operators <= {
        "mut_temperature",
        "mut_prompt",
        "gp_constant",
        "gp_subtree",
        "gp_crossover",
        "cx_agents",
    }
    assert sum(c.calls for c in context.stats.counts.values()) > 0


async def test_observe_pays_the_bandit_per_operator() -> None:
    context = OperatorContext(space=SPACE)
    bandit = OperatorBandit.over(["mut_temperature", "mut_prompt"])
    policy = VariationPolicy([mut_temperature, mut_prompt], context, bandit)
    rng = random.Random(0)
    parent = SPACE.seeds()[1]
    for _ in range(20):
        child = await policy.mutate(parent, rng)
        if child.hash != parent.hash:
            await policy.observe(child, toy(child, "0", 0)[0], toy(parent, "0", 0)[0])
    assert policy.pending == {}
    calls = sum(
        counts.calls for counts in context.stats.counts.values()
    )  # an operator tried in vain is paid 0
    assert calls >= 20
    assert sum(arm.pulls for arm in bandit.arms.values()) == calls
    restored = OperatorBandit.from_state(bandit.state())
    assert restored.means() == bandit.means()


async def test_the_engine_names_operators_in_lineage_pays_the_bandit_and_checkpoints_it(
    tmp_path: Path,
) -> None:
    def engine(policy: VariationPolicy, lineage: InMemoryLineage, generations: int) -> Engine:
        return Engine(
            operators=policy.engine_operators(_init),
            algorithm=MuPlusLambda(mu=4, lambda_=6),
            evaluator=LocalEvaluator(toy),
            items=["0"],
            weights=(1.0,),
            generations=generations,
            seed=5,
            out_dir=tmp_path,
            lineage=[lineage],
            observers=[policy.observe_individual],
            stateful=[policy],
        )

    names = ["mut_temperature", "mut_prompt", "cx_agents"]
    policy = VariationPolicy([mut_temperature, mut_prompt, cx_agents], OperatorContext(space=SPACE))
    lineage = InMemoryLineage()
    await engine(policy, lineage, generations=2).run()
    bred = [r.operator for r in lineage.records if r.generation > 0 and not r.cached]
    assert bred
    assert set(bred) <= set(names)
    assert policy.bandit is not None
    pulls = sum(arm.pulls for arm in policy.bandit.arms.values())
    assert pulls > 0

    resumed = VariationPolicy([mut_temperature, mut_prompt, cx_agents], OperatorContext(space=SPACE))
    await engine(resumed, InMemoryLineage(), generations=2).run(resume=True)
    assert resumed.bandit is not None
    assert resumed.bandit.state() == policy.bandit.state()
    assert resumed.context.stats.as_dict() == policy.context.stats.as_dict()  # the counts go on
    assert sum(c["calls"] for c in policy.context.stats.as_dict().values()) > 0


async def test_a_failed_child_is_the_worst_finite_outcome_for_the_bandit_not_minus_1e300() -> None:
    context = OperatorContext(space=SPACE)
    bandit = OperatorBandit.over(["mut_temperature"])
    policy = VariationPolicy([mut_temperature], context, bandit)
    rng = random.Random(0)
    parent = SPACE.seeds()[1]
    observed = [(0.75, 0.5), (-FAILED, 0.5), (0.5, -FAILED), (-FAILED, -FAILED), (0.25, 0.5)]
    for child_score, parent_score in observed:  # (child, its best parent)
        child = parent
        while child.hash == parent.hash:
            child = await policy.mutate(parent, rng)
        await policy.observe(child, child_score, parent_score)
    arm = bandit.arms["mut_temperature"]
    assert arm.pulls >= len(observed)  # an attempt that made no child is paid 0 as well
    assert bandit.scale == pytest.approx(0.25)  # the largest measured gain, not 1e300
    # a failed child costs the worst finite outcome (-scale); a child of a failed parent gains nothing
    assert arm.total == pytest.approx(0.25 - 0.25 + 0.0 - 0.25 - 0.25)
    assert arm.squares == pytest.approx(4 * 0.25**2)


def test_a_failure_sized_reward_never_reaches_the_arms() -> None:
    bandit = OperatorBandit.over(["a"])
    bandit.update("a", bandit.reward(0.5))
    assert bandit.reward(-FAILED - 0.5) == bandit.worst() == -0.5
    assert bandit.reward(0.5 + FAILED) == 0.0
    with pytest.raises(ValueError, match="finite"):
        bandit.update("a", -FAILED)
    assert bandit.scale == 0.5


async def test_an_operator_that_makes_nothing_gives_way_to_another_and_the_parent_comes_back_when_none_can() -> (
    None
):
    tried: list[str] = []

    def barren(name: str) -> Operator:
        def fn(parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext) -> list[Any]:
            tried.append(name)
            return []

        return operator(name)(fn)

    parent = SPACE.seeds()[1]
    weights = {"dud": 1000.0, "mut_temperature": 1.0}
    policy = VariationPolicy([barren("dud"), mut_temperature], OperatorContext(space=SPACE), weights=weights)
    child = await policy.mutate(parent, random.Random(0))
    assert tried == ["dud"]
    assert child.hash != parent.hash
    assert child.metadata.origin["operator"] == "mut_temperature"

    duds = [barren(f"dud_{i}") for i in range(5)]
    policy = VariationPolicy(duds, OperatorContext(space=SPACE))
    assert await policy.mutate(parent, random.Random(0)) is parent  # none could make a child
    assert sorted(tried[1:]) == [f"dud_{i}" for i in range(5)]  # each tried once


class _SlowEmbedder:
    """An embedder whose every request times out (a model server too busy to answer in time)."""

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> list[list[float]]:
        raise Timeout("no embeddings within 120 s", seconds=120)


async def test_an_edit_the_memory_cannot_embed_is_not_remembered_and_the_run_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    memory = EditMemory(SemanticMemory(_SlowEmbedder(), MemoryVectorStore(dim=4)))  # type: ignore[arg-type]
    context = OperatorContext(space=SPACE, memory=memory)
    bandit = OperatorBandit.over(["mut_temperature"])
    policy = VariationPolicy([mut_temperature], context, bandit)
    parent, rng = SPACE.seeds()[1], random.Random(0)
    child = parent
    while child.hash == parent.hash:
        child = await policy.mutate(parent, rng)
    edit = {"kind": "prompt", "before": "a", "after": "b"}
    child = child.model_copy(update={"metadata": Metadata(origin={**child.metadata.origin, EDIT_KEY: edit})})
    await policy.observe(child, 0.75, 0.5)
    assert bandit.arms["mut_temperature"].pulls >= 1  # the bandit was paid before the memory failed
    assert "not remembered" in caplog.text
