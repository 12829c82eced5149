"""A run journals each item as it finishes: scoring stopped in the middle of a long batch (the
test split) keeps what it had done, and a run started again in the folder does not redo it."""

from __future__ import annotations

import asyncio
import random
from functools import partial
from pathlib import Path

from evoforum.evolve import Engine, Generational, LocalEvaluator
from evoforum.evolve.cache import ResultCache
from evoforum.evolve.engine import JOURNAL
from evoforum.evolve.toy import VectorSpace, sphere
from evoforum.run.experiment import _done

ITEMS = [str(i) for i in range(6)]
SLOW = "5"


def _engine(out: Path, fn: object) -> Engine:
    cache = ResultCache(out / JOURNAL)
    return Engine(
        operators=VectorSpace(length=3).operators(),
        algorithm=Generational(4),
        evaluator=LocalEvaluator(fn, concurrency=8, on_done=partial(_done, cache, None)),  # type: ignore[arg-type]
        items=["0"],
        weights=(-1.0,),
        generations=1,
        out_dir=out,
        result_cache=cache,
    )


async def test_a_stopped_batch_keeps_the_items_it_finished(tmp_path: Path) -> None:
    asked: list[str] = []
    answered: list[str] = []
    finished = asyncio.Event()

    async def item(genome: object, item: str, seed: int) -> object:
        asked.append(item)
        if item == SLOW:
            await asyncio.Event().wait()  # never answers: the run is stopped meanwhile
        answered.append(item)
        if len(answered) == len(ITEMS) - 1:
            finished.set()
        return sphere(genome, item, seed)  # type: ignore[arg-type]

    genome = VectorSpace(length=3).init(random.Random(0))
    first = _engine(tmp_path, item)
    scoring = asyncio.ensure_future(first.score([genome], ITEMS))
    await asyncio.wait_for(finished.wait(), 10)
    await asyncio.sleep(0)  # the last fast item is told done
    scoring.cancel()
    await asyncio.gather(scoring, return_exceptions=True)

    asked.clear()
    again = _engine(tmp_path, item)
    again.cache.restore(0)  # as a resumed run reloads its journal
    assert len(again.cache) == len(ITEMS) - 1

    async def only_the_slow_one(genome: object, item: str, seed: int) -> object:
        asked.append(item)
        return sphere(genome, item, seed)  # type: ignore[arg-type]

    again.evaluator = again.assessor.evaluator = LocalEvaluator(only_the_slow_one)  # type: ignore[arg-type]
    scored = await again.score([genome], ITEMS)
    assert asked == [SLOW]
    assert scored[genome.hash].items == len(ITEMS)
