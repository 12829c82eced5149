"""Experiments: registry, splits, scorers, and the simulated benchmark's exact optimum."""

from __future__ import annotations

import random
import statistics

import pytest

import experiments
from evoforum.errors import ConfigError
from evoforum.sandbox import Sandbox
from experiments import sim_workflow as sim
from experiments._code import solution_source
from experiments.humaneval import load_problems, single_call
from experiments.symbolic_regression import mse, primitive_set, space


def test_unknown_experiment_names_the_closest_one() -> None:
    with pytest.raises(ConfigError, match="did you mean 'quickstart'"):
        experiments.get("quikstart")


def test_unknown_option_is_rejected() -> None:
    with pytest.raises(
        ConfigError, match=r"experiment\.options\.vallid: unknown option \(did you mean 'valid'"
    ):
        experiments.get("humaneval", {"vallid": 3})


@pytest.mark.parametrize("name", sorted(experiments.EXPERIMENTS))
def test_splits_are_disjoint_and_not_empty(name: str) -> None:
    splits = experiments.get(name).splits()
    assert splits.valid
    assert splits.test
    assert not set(splits.valid) & set(splits.test)
    assert not set(splits.train) & (set(splits.valid) | set(splits.test))


def test_humaneval_split_sizes_follow_options_and_seed() -> None:
    one = experiments.get("humaneval", {"train": 2, "valid": 3, "test": 4, "split_seed": 1}).splits()
    two = experiments.get("humaneval", {"train": 2, "valid": 3, "test": 4, "split_seed": 2}).splits()
    assert (len(one.train), len(one.valid), len(one.test)) == (2, 3, 4)
    assert one != two


def test_humaneval_has_all_problems() -> None:
    assert len(load_problems()) == 164


async def test_canonical_humaneval_solution_passes_and_a_wrong_one_fails() -> None:
    problem = load_problems()["HumanEval/0"]
    sandbox = Sandbox()
    good = await sandbox.call(
        solution_source(problem, problem.prompt + problem.canonical_solution), "__evoforum_score"
    )
    body_only = await sandbox.call(solution_source(problem, problem.canonical_solution), "__evoforum_score")
    wrong = await sandbox.call(solution_source(problem, "    return False\n"), "__evoforum_score")
    assert (good.ok, good.value) == (True, 1.0)
    assert (body_only.ok, body_only.value) == (True, 1.0)
    assert not wrong.ok


def test_single_call_baseline_is_a_valid_one_call_workflow() -> None:
    genome = single_call().validate_all()
    assert [a.kind for a in genome.agents] == ["llm", "function"]


def test_symbolic_regression_target_tree_has_zero_error() -> None:
    from deap import gp

    tree = gp.PrimitiveTree.from_string(
        "add(mul(mul(x, x), add(mul(x, x), x)), add(mul(x, x), x))", primitive_set()
    )
    from evoforum.evolve import TreeGenome

    genome = TreeGenome(tuple(tree))
    assert mse(genome, "valid", 0) == (pytest.approx(0.0, abs=1e-12),)
    assert mse(space().init(random.Random(1)), "valid", 0)[0] > 0


def test_exact_expected_utility_matches_simulation() -> None:
    team = sim.Team(("small", "large", "medium"), "strong", "verified")
    episodes = [sim.simulate(team, f"d{d}-x{i}", 7)[0] for d in range(3) for i in range(4000)]
    assert statistics.mean(episodes) == pytest.approx(sim.true_utility(team), abs=0.02)


def test_majority_team_utility_matches_simulation() -> None:
    team = sim.Team(("medium", "medium", "small"), None, "majority")
    episodes = [sim.simulate(team, f"d{d}-x{i}", 3)[0] for d in range(3) for i in range(4000)]
    assert statistics.mean(episodes) == pytest.approx(sim.true_utility(team), abs=0.02)


def test_optimum_is_the_best_of_the_whole_space() -> None:
    best, team = sim.optimum()
    assert best == pytest.approx(sim.true_utility(team))
    rng = random.Random(0)
    assert all(sim.true_utility(sim.random_team(rng)) <= best + 1e-12 for _ in range(300))
    assert sim.report(team)["regret"] == pytest.approx(0.0)


def test_sim_operators_keep_teams_within_the_space() -> None:
    rng = random.Random(3)
    team = sim.seed_team(rng)
    for _ in range(200):
        team = sim.mutate(team, rng)
        other, _ = sim.crossover(team, sim.random_team(rng), rng)
        for candidate in (team, other):
            assert 1 <= len(candidate.solvers) <= sim.MAX_SOLVERS
            assert (candidate.verifier is not None) == (candidate.aggregation == "verified")
