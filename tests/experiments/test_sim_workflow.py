"""sim_workflow under racing: balanced prefixes, and an engine run whose winner rests on evidence."""

from __future__ import annotations

import random
from collections import Counter

import experiments
from evoforum.evolve import Engine, LocalEvaluator, MuPlusLambda, Racing
from experiments import sim_workflow as sim


def test_every_prefix_of_a_split_is_balanced_over_difficulties() -> None:
    splits = experiments.get("sim_workflow", {"valid_items": 5, "test_items": 4}).splits()
    levels = len(sim.DIFFICULTIES)
    for split in (splits.valid, splits.test):
        assert len(set(split)) == len(split)
        for end in range(levels, len(split) + 1, levels):
            counts = Counter(item.split("-")[0] for item in split[:end])
            assert set(counts.values()) == {end // levels}, split[:end]
    assert not set(splits.valid) & set(splits.test)


async def test_a_raced_run_picks_a_winner_scored_on_the_whole_split() -> None:
    problem = experiments.get("sim_workflow", {"valid_items": 8}).problem()
    items = list(experiments.get("sim_workflow", {"valid_items": 8}).splits().valid)
    engine = Engine(
        operators=problem.operators, algorithm=MuPlusLambda(6, 6, 0.3, 0.6),
        evaluator=LocalEvaluator(sim.simulate), items=items, weights=(1.0,), generations=40, seed=1,
        racing=Racing(), max_jobs=1500, durable=False,
    )  # fmt: skip
    result = await engine.run()
    assert result.best is not None
    assert engine.assessor.depth(result.best.hash) == len(items)
    scored = {key[0] for key, _ in engine.cache.items()}
    stopped = [h for h in scored if engine.assessor.depth(h) < len(items)]
    assert len(stopped) > len(scored) / 2, "racing stopped too few teams early"
    rng = random.Random(0)
    typical = sorted(sim.true_utility(sim.random_team(rng)) for _ in range(200))[100]
    assert sim.true_utility(result.best.genome) > typical
