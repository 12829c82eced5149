"""The operator bandit: converges to the better arm, seeded, serialisable."""

from __future__ import annotations

import json
import random

import pytest

from evoforum.evolve.operators import OperatorBandit

PAYOFF = {"cheap_good": 0.7, "cheap_bad": 0.3, "costly": 0.8}
TOKENS = {"cheap_good": 0, "cheap_bad": 0, "costly": 3000}


def _play(bandit: OperatorBandit, rng: random.Random, rounds: int) -> list[str]:
    chosen = []
    for _ in range(rounds):
        arm = bandit.select(rng)
        improvement = 1.0 if rng.random() < PAYOFF[arm] else 0.0
        bandit.update(arm, bandit.reward(improvement, TOKENS[arm]))
        chosen.append(arm)
    return chosen


@pytest.mark.parametrize("policy", ["ucb1", "thompson"])
def test_converges_to_the_best_improvement_per_cost(policy: str) -> None:
    bandit = OperatorBandit.over(list(PAYOFF), policy)  # type: ignore[arg-type]
    chosen = _play(bandit, random.Random(0), 600)
    late = chosen[-200:]
    assert late.count("cheap_good") > 0.6 * len(late)
    assert max(bandit.means(), key=lambda n: bandit.means()[n]) == "cheap_good"


@pytest.mark.parametrize("policy", ["ucb1", "thompson"])
def test_same_seed_same_choices_and_state_round_trips(policy: str) -> None:
    one = OperatorBandit.over(list(PAYOFF), policy)  # type: ignore[arg-type]
    two = OperatorBandit.over(list(PAYOFF), policy)  # type: ignore[arg-type]
    assert _play(one, random.Random(3), 50) == _play(two, random.Random(3), 50)
    restored = OperatorBandit.from_state(json.loads(json.dumps(one.state())))
    assert restored.state() == one.state()
    assert _play(restored, random.Random(9), 30) == _play(one, random.Random(9), 30)


def test_untried_arms_come_first_and_among_limits_the_choice() -> None:
    bandit = OperatorBandit.over(["a", "b", "c"])
    rng = random.Random(0)
    assert [bandit.select(rng) for _ in range(1)] == ["a"]
    bandit.update("a", 1.0)
    assert bandit.select(rng) == "b"
    assert bandit.select(rng, among=["a"]) == "a"
