"""The Ray Tune evaluator returns what the local one does (one Ray instance for the session)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from evoforum.evolve import Engine, Generational, Job, LocalEvaluator
from evoforum.evolve.toy import VectorSpace, sphere


@pytest.mark.usefixtures("ray_session")
@pytest.mark.timeout(240)
async def test_ray_tune_evaluator_matches_the_local_one(tmp_path: Path) -> None:
    from evoforum.evolve import RayTuneEvaluator

    rng = random.Random(0)
    jobs = [Job(VectorSpace().init(rng), item) for _ in range(9) for item in ("0", "1")]
    expected = await LocalEvaluator(sphere).evaluate(jobs)

    per_call = RayTuneEvaluator(sphere, workers=2, persistent=False, storage_path=tmp_path / "trials")
    try:
        assert await per_call.evaluate(jobs) == expected
    finally:
        await per_call.aclose()

    workers = RayTuneEvaluator(sphere, workers=2, storage_path=tmp_path / "workers")
    try:
        assert await workers.evaluate(jobs) == expected
        assert await workers.evaluate(jobs[:3]) == expected[:3]

        def engine(evaluator: Any) -> Engine:
            return Engine(
                operators=VectorSpace().operators(), algorithm=Generational(10, elitism=1),
                evaluator=evaluator, items=["0", "1"], weights=(-1.0,), generations=3, seed=4,
            )  # fmt: skip

        through_ray = await engine(workers).run()
    finally:
        await workers.aclose()
    local = await engine(LocalEvaluator(sphere)).run()
    assert [(i.hash, i.fitness.values) for i in through_ray.population] == [
        (i.hash, i.fitness.values) for i in local.population
    ]
