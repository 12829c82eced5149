"""Watching the work: candidates and items done of planned, racing, rates and ETAs on a fake clock,
and what the engine and the assessor tell a watcher in a real run."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from evoforum.evolve import Engine, LocalEvaluator, MuPlusLambda, Racing
from evoforum.evolve.cache import Key
from evoforum.evolve.evaluate import ItemFn, ItemResult
from evoforum.evolve.toy import VectorGenome, VectorSpace, sphere
from evoforum.evolve.watch import Unwatched, WorkTally


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def keys(genome: str, count: int) -> list[Key]:
    return [(genome, str(item), 0) for item in range(count)]


def ok(value: float) -> ItemResult:
    return ItemResult((value,))


def test_a_candidate_is_done_when_its_last_item_is_and_a_job_told_twice_counts_once() -> None:
    tally = WorkTally(last_generation=3, clock=Clock())
    tally.begin("assess", 0)
    tally.candidates(["a", "b"])
    tally.planned(["a", "b"], [*keys("a", 2), *keys("b", 2)], final=True)
    view = tally.view()
    assert (view.candidates_done, view.candidates_planned, view.items_done, view.items_planned) == (
        0,
        2,
        0,
        4,
    )
    tally.done([(keys("a", 2)[0], ok(1.0))])
    assert tally.view().candidates_done == 0
    tally.done([(keys("a", 2)[1], ok(0.0))])
    tally.done([(keys("a", 2)[1], ok(0.0))])  # the assessor tells the whole batch again
    view = tally.view()
    assert (view.candidates_done, view.items_done) == (1, 2)
    assert view.best == (0.5, "a")
    tally.done([(key, ok(0.0)) for key in keys("b", 2)])
    assert (tally.view().candidates_done, tally.view().items_done) == (2, 4)


def test_a_cached_candidate_is_done_at_once_and_an_unplanned_job_is_not_counted() -> None:
    tally = WorkTally(last_generation=1, clock=Clock())
    tally.begin("assess", 0)
    tally.candidates(["cached"])
    tally.planned(["cached"], [], final=True)
    tally.done([(("other", "0", 0), ok(1.0))])
    view = tally.view()
    assert (view.candidates_done, view.candidates_planned, view.items_done, view.items_planned) == (
        1,
        1,
        0,
        0,
    )
    assert view.eta_stage_s is None  # nothing planned: nothing to time


def test_under_racing_a_candidate_is_done_when_dropped_or_through_the_last_rung() -> None:
    tally = WorkTally(last_generation=1, clock=Clock())
    tally.begin("assess", 1)
    tally.candidates(["a", "b"])
    tally.planned(["a", "b"], [*keys("a", 1), *keys("b", 1)], final=False)
    tally.done([(key, ok(1.0)) for key in [*keys("a", 1), *keys("b", 1)]])
    view = tally.view()
    assert (view.candidates_done, view.items_done, view.open_ended) == (0, 2, True)
    tally.settled(["b"])  # dropped at the first rung
    tally.planned(["a"], keys("a", 3)[1:], final=True)
    view = tally.view()
    assert (view.candidates_done, view.items_done, view.items_planned, view.open_ended) == (1, 2, 4, False)
    tally.done([(key, ok(1.0)) for key in keys("a", 3)])
    assert tally.view().candidates_done == 2
    tally.planned(["a"], [("a", "9", 0)], final=False)  # promoted later: stays done, its item counts
    assert (tally.view().candidates_done, tally.view().items_planned) == (2, 5)


def test_etas_come_from_the_rate_so_far_and_the_generations_before() -> None:
    clock = Clock()
    tally = WorkTally(last_generation=2, later_share=0.5, clock=clock)
    tally.begin("init", 0)
    tally.begin("assess", 0)
    tally.candidates(["a"])
    tally.planned(["a"], keys("a", 10), final=True)
    assert tally.view().eta_stage_s is None  # no rate yet
    clock.now += 10
    tally.done([(key, ok(1.0)) for key in keys("a", 5)])
    view = tally.view()
    assert view.items_per_s == pytest.approx(0.5)
    assert view.eta_stage_s == pytest.approx(10.0)
    # generation 0 will have taken 20 s; each later one half of it
    assert view.eta_run_s == pytest.approx(10.0 + 2 * 10.0)
    clock.now += 10
    tally.done([(key, ok(1.0)) for key in keys("a", 10)])
    tally.begin("breed", 1)
    assert tally.durations == {0: pytest.approx(20.0)}
    clock.now += 4
    tally.begin("assess", 1)
    tally.candidates(["b"])
    tally.planned(["b"], keys("b", 4), final=True)
    view = tally.view()
    assert view.items_per_s == pytest.approx(0.5)  # generation 0's rate until an item is done here
    assert view.eta_stage_s == pytest.approx(8.0)
    assert view.eta_run_s == pytest.approx(8.0 + (4.0 + 8.0))  # generation 2 as long as this one
    clock.now += 8
    tally.done([(key, ok(1.0)) for key in keys("b", 4)])
    tally.begin("breed", 2)
    tally.begin("assess", 2)
    tally.planned([], keys("c", 6), final=True)
    view = tally.view()
    assert view.eta_run_s == view.eta_stage_s == pytest.approx(6 / 0.5)
    tally.begin("test")
    assert tally.durations[2] == pytest.approx(0.0)
    assert tally.view().eta_run_s is None  # past the generations


def test_the_provisional_best_follows_the_objectives_direction_and_skips_failures() -> None:
    tally = WorkTally(last_generation=1, sign=-1.0, clock=Clock())
    tally.begin("assess", 0)
    tally.candidates(["low", "high", "broken"])
    tally.planned(
        ["low", "high", "broken"], [*keys("low", 1), *keys("high", 1), *keys("broken", 1)], final=True
    )
    tally.done([(keys("low", 1)[0], ok(0.2)), (keys("high", 1)[0], ok(0.9))])
    tally.done([(keys("broken", 1)[0], ItemResult((), error="RunError: boom"))])
    assert tally.view().best == (pytest.approx(0.2), "low")


class Told(Unwatched):
    """Remembers what the engine and the assessor told it."""

    def __init__(self) -> None:
        self.stages: list[tuple[str, int | None]] = []
        self.told: set[str] = set()
        self.settled_all: set[str] = set()
        self.planned_jobs = 0

    def begin(self, stage: str, generation: int | None = None) -> None:
        self.stages.append((stage, generation))

    def candidates(self, hashes: Sequence[str]) -> None:
        self.told.update(hashes)

    def planned(self, hashes: Sequence[str], keys: Sequence[Key], *, final: bool) -> None:
        self.planned_jobs += len(keys)

    def settled(self, hashes: Sequence[str]) -> None:
        self.settled_all.update(hashes)


@pytest.mark.parametrize("racing", [None, Racing(min_items=1)], ids=["plain", "racing"])
async def test_the_engine_tells_each_stage_and_every_job_it_runs(racing: Racing | None) -> None:
    told = Told()
    engine = Engine(
        operators=VectorSpace().operators(), algorithm=MuPlusLambda(4, 4), evaluator=LocalEvaluator(sphere),
        items=["0", "1", "2", "3"], weights=(-1.0,), generations=2, seed=3, racing=racing, watcher=told,
    )  # fmt: skip
    result = await engine.run()
    assert told.stages == [
        ("init", 0),
        ("assess", 0),
        ("breed", 1),
        ("assess", 1),
        ("breed", 2),
        ("assess", 2),
    ]
    assert told.planned_jobs == result.jobs
    assert told.told
    assert told.settled_all == told.told


async def sphere_async(genome: VectorGenome, item: str, seed: int) -> tuple[float]:
    await asyncio.sleep(0)
    return sphere(genome, item, seed)


@pytest.mark.parametrize("fn", [sphere, sphere_async], ids=["sync", "async"])
async def test_a_local_evaluator_tells_each_item_as_it_is_done(fn: ItemFn) -> None:
    tally = WorkTally(last_generation=1, clock=Clock())
    seen: list[int] = []

    def counting(results: Sequence[tuple[Key, ItemResult]]) -> None:
        tally.done(results)
        seen.append(tally.view().items_done)

    engine = Engine(
        operators=VectorSpace().operators(), algorithm=MuPlusLambda(3, 3),
        evaluator=LocalEvaluator(fn, on_done=counting), items=["0", "1"], weights=(-1.0,),
        generations=1, seed=0, watcher=tally,
    )  # fmt: skip
    await engine.run()
    assert seen[:6] == [1, 2, 3, 4, 5, 6]  # one by one, before the batch is back
