"""Evaluation: what one candidate scores on one item, and where that work runs.

An item function ``fn(genome, item, seed)`` (sync or async) scores one genome on one dataset item
and returns an ``ItemResult`` (or a bare float / tuple of floats, one per objective). An
``Evaluator`` runs many such jobs: ``LocalEvaluator`` in this process or a process pool,
``RayTuneEvaluator`` in Ray Tune trials. This is the one place parallelism plugs in.
"""

from __future__ import annotations

import asyncio
import inspect
import multiprocessing
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from evoforum.errors import RunError

ItemFn = Callable[[Any, str, int], "ItemResult | float | Sequence[float] | Awaitable[Any]"]
OnDone = Callable[[Sequence[tuple[tuple[str, str, int], "ItemResult"]]], None]
"""Told each job's key and result as soon as it is done (a ``WorkWatcher``'s ``done``)."""


@dataclass(frozen=True)
class Job:
    """Score ``genome`` on dataset item ``item`` with evaluation seed ``seed``."""

    genome: Any
    item: str
    seed: int = 0

    @property
    def key(self) -> tuple[str, str, int]:
        """The content address of this job's result: (genome hash, item id, seed)."""
        return (str(self.genome.hash), self.item, self.seed)


@dataclass(frozen=True)
class ItemResult:
    """One job's outcome: objective values (one per fitness weight) and what it said.

    ``transcripts`` are opaque ids (message-tree hashes) passed on to lineage; ``error`` is set
    when the candidate failed on this item (its values are then ignored and the candidate gets
    the engine's failure fitness).
    """

    values: tuple[float, ...]
    transcripts: tuple[str, ...] = ()
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


def as_result(value: Any) -> ItemResult:
    """Normalise what an item function returned into an ``ItemResult``."""
    if isinstance(value, ItemResult):
        return value
    if isinstance(value, int | float):
        return ItemResult((float(value),))
    return ItemResult(tuple(float(v) for v in value))


def run_job(fn: ItemFn, job: Job) -> ItemResult:
    """Run one job synchronously; a ``RunError`` becomes a failed result, anything else raises."""
    try:
        value = fn(job.genome, job.item, job.seed)
        if inspect.isawaitable(value):
            value = asyncio.run(_await(value))
        return as_result(value)
    except RunError as error:
        return ItemResult((), error=f"{type(error).__name__}: {error}")


async def _await(value: Awaitable[Any]) -> Any:
    return await value


def run_jobs(fn: ItemFn, jobs: Sequence[Job], concurrency: int = 8) -> list[ItemResult]:
    """Run a batch of jobs (what a worker does with its share): a sync ``fn`` one job after the
    other, an async one on a fresh event loop with at most ``concurrency`` jobs at once."""
    if inspect.iscoroutinefunction(fn):
        return asyncio.run(gather_jobs(fn, jobs, concurrency))
    return [run_job(fn, job) for job in jobs]


async def gather_jobs(
    fn: ItemFn, jobs: Sequence[Job], concurrency: int, on_done: OnDone | None = None
) -> list[ItemResult]:
    """Run an async item function over ``jobs`` on the current loop, ``concurrency`` at a time;
    ``on_done`` is told each job as it finishes."""
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Job) -> ItemResult:
        async with gate:
            try:
                result = as_result(await fn(job.genome, job.item, job.seed))  # type: ignore[misc]
            except RunError as error:
                result = ItemResult((), error=f"{type(error).__name__}: {error}")
        if on_done is not None:
            on_done([(job.key, result)])
        return result

    return list(await asyncio.gather(*(one(job) for job in jobs)))


@runtime_checkable
class Evaluator(Protocol):
    """Runs jobs and returns their results in the same order."""

    async def evaluate(self, jobs: Sequence[Job]) -> list[ItemResult]: ...

    async def aclose(self) -> None: ...


def chunks(jobs: Sequence[Job], count: int) -> list[list[Job]]:
    """``jobs`` split into at most ``count`` contiguous, nearly equal batches."""
    count = max(1, min(count, len(jobs)))
    size, extra = divmod(len(jobs), count)
    out, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        out.append(list(jobs[start:end]))
        start = end
    return out


class LocalEvaluator:
    """Jobs in this process (``processes=0``) or in a pool of forked worker processes.

    In process, an async item function runs on the caller's event loop with at most
    ``concurrency`` jobs at once; a sync one runs inline. ``on_done`` is told each job as it
    finishes (in a pool, each worker's share as it comes back).
    """

    def __init__(
        self, fn: ItemFn, *, processes: int = 0, concurrency: int = 8, on_done: OnDone | None = None
    ) -> None:
        self.fn = fn
        self.processes = processes
        self.concurrency = concurrency
        self.on_done = on_done
        self._pool: ProcessPoolExecutor | None = None

    async def evaluate(self, jobs: Sequence[Job]) -> list[ItemResult]:
        if not jobs:
            return []
        if self.processes > 0:
            return await self._in_pool(jobs)
        if inspect.iscoroutinefunction(self.fn):
            return await gather_jobs(self.fn, jobs, self.concurrency, self.on_done)
        results = []
        for job in jobs:
            results.append(run_job(self.fn, job))
            self._tell([job], results[-1:])
        return results

    def _tell(self, jobs: Sequence[Job], results: Sequence[ItemResult]) -> None:
        if self.on_done is not None:
            self.on_done([(job.key, result) for job, result in zip(jobs, results, strict=True)])

    async def _in_pool(self, jobs: Sequence[Job]) -> list[ItemResult]:
        if self._pool is None:
            context = multiprocessing.get_context("fork")
            self._pool = ProcessPoolExecutor(self.processes, mp_context=context)
        loop = asyncio.get_running_loop()
        parts = chunks(jobs, self.processes * 4)

        async def share(part: list[Job]) -> list[ItemResult]:
            results = await loop.run_in_executor(self._pool, run_jobs, self.fn, part)
            self._tell(part, results)
            return results

        done = await asyncio.gather(*(share(part) for part in parts))
        return [result for part in done for result in part]

    async def aclose(self) -> None:
        """Stop the worker processes (waited for off the event loop, which goes on meanwhile)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
