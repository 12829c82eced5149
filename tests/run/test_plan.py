"""The plan of a run: built whole and frozen, one builder per algorithm kind, one stop flag."""

from __future__ import annotations

import dataclasses
import typing
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from evoforum.config import validate_config
from evoforum.config.model import AlgorithmSection
from evoforum.errors import ConfigError
from evoforum.evolve import Operators
from evoforum.run import ALGORITHMS, RunFolder, StopFlag, design, plan
from evoforum.run.algorithms import BestOfN, Origins, RandomSearch
from evoforum.run.resources import Resources

QUICK = {
    "experiment": {"name": "quickstart"},
    "search_space": {"name": "code_writing"},
    "operators": {"weights": {"mutate": 1.0}},
}


def test_every_algorithm_kind_of_the_config_has_a_builder() -> None:
    kinds = typing.get_args(AlgorithmSection.model_fields["kind"].annotation)
    assert sorted(ALGORITHMS) == sorted(kinds)


def test_the_baselines_draw_their_genomes_through_the_origins() -> None:
    remembered: list[object] = []
    origins = Origins(
        random_init=lambda rng: "random", seed_genome=lambda: "seed", remember=remembered.append
    )
    operators = Operators(init=lambda rng: "init", mutate=lambda genome, rng: genome)
    section = AlgorithmSection(kind="best_of_n", population=2)
    search = ALGORITHMS["best_of_n"](section, operators, origins)
    assert isinstance(search.algorithm, BestOfN)
    assert remembered == ["seed"]
    search = ALGORITHMS["random_search"](AlgorithmSection(kind="random_search"), operators, origins)
    assert isinstance(search.algorithm, RandomSearch)
    assert search.operators.init is search.algorithm.random_init


def test_the_first_stop_reason_wins() -> None:
    stop = StopFlag()
    assert stop() is None
    stop.set("llm_budget")
    stop.set("wall_s")
    assert stop() == "llm_budget"


async def test_a_workflow_plan_is_complete_and_frozen(tmp_path: Path) -> None:
    config = validate_config(QUICK)
    designed = design(config)
    async with AsyncExitStack() as stack:
        planned = await plan(
            designed, Resources(), folder=RunFolder(tmp_path), stack=stack, tracker=None, stop=StopFlag()
        )
    assert planned.scorer is not None
    assert planned.item_fn == planned.scorer.score
    assert planned.operators.init is not None
    assert planned.stateful
    assert planned.observers
    with pytest.raises(dataclasses.FrozenInstanceError):
        planned.scorer = None  # type: ignore[misc]


async def test_a_scorer_that_meets_the_llm_budget_sets_the_stop_flag(tmp_path: Path) -> None:
    stop = StopFlag()
    async with AsyncExitStack() as stack:
        planned = await plan(
            design(validate_config(QUICK)),
            Resources(),
            folder=RunFolder(tmp_path),
            stack=stack,
            tracker=None,
            stop=stop,
        )
    assert planned.scorer is not None
    planned.scorer.on_budget()
    assert stop() == "llm_budget"


@pytest.mark.parametrize(
    ("objectives", "weights", "names"),
    [
        (["quality", "latency"], (1.0, -1.0), ("quality", "latency_s")),
        (["quality", "latency", "cost"], (1.0, -1.0, -1.0), ("quality", "latency_s", "tokens")),
    ],
)
def test_latency_is_an_objective_minimised_like_cost(
    objectives: list[str], weights: tuple[float, ...], names: tuple[str, ...]
) -> None:
    designed = design(validate_config({**QUICK, "algorithm": {"kind": "nsga2", "objectives": objectives}}))
    assert designed.weights == weights
    assert designed.objectives == names


def test_an_objective_named_twice_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="more than once"):
        validate_config({**QUICK, "algorithm": {"objectives": ["quality", "cost", "cost"]}})
