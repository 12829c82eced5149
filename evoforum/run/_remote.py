"""Workflow items scored on Ray workers: a picklable item function and the driver's tally of it.

The driver's item function closes over its forum store, model client and sandbox, none of which
can be shipped to a worker. ``RemoteItems`` holds plain data instead (the config, the services'
URLs, the model name, the limits); its ``score`` opens, once per worker process, the forum store
(PostgreSQL at the same URL: transcripts and recorded answers land where the driver's do), the
model client (the driver's stack, recording in the store) and a sandbox, then runs the same
``WorkflowScorer`` as the driver. Those services live on one event loop in a thread of their own,
so the short-lived loops the evaluation trials run batches on can share them.

Model calls made on a worker are recorded in the worker's ledger and travel back with the item's
result (``info["llm_entries"]``, also when the item failed or the budget ran out midway);
``Tallied`` moves them into the driver's ledger, so the run's ``llm_calls``/``llm_tokens`` and its
accounting per experiment, generation, candidate and operator include them. With an LLM budget,
``budget`` is the run's shared budget (``evoforum.run._budget``): every worker's calls and the
driver's reserve in it, so the run as a whole passes its budget only by what calls in flight spend
beyond their reservations. A refused call fails its item with ``BudgetExceeded`` and the run stops.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import threading
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evoforum.config import ExperimentConfig
from evoforum.errors import RunError
from evoforum.evolve import ItemResult
from evoforum.evolve.evaluate import Job
from evoforum.evolve.sandbox import SandboxLimits
from evoforum.llm import Ledger
from evoforum.llm.accounting import Entry
from evoforum.llm.budget import BudgetPool
from evoforum.run._budget import ActorBudget

ENTRIES = "llm_entries"
if TYPE_CHECKING:
    from evoforum.run._workflow import WorkflowScorer

_ITEM_ENTRIES: ContextVar[list[Entry] | None] = ContextVar("evoforum_item_entries", default=None)


@dataclass(frozen=True)
class RemoteItems:
    """What a worker needs to score workflow items; ``score`` is the (picklable) item function."""

    config: ExperimentConfig
    postgres_url: str
    llm_url: str | None
    model: str | None
    sandbox: SandboxLimits
    timeout_s: float
    cost_objective: bool = False
    budget: BudgetPool | None = None
    """The run's shared budget (``Resources.budget``), if it has an LLM budget."""

    async def score(self, genome: Any, item: str, seed: int) -> ItemResult:
        worker = _worker(self)
        done = asyncio.run_coroutine_threadsafe(worker.score(genome, item, seed), worker.loop)
        return await asyncio.wrap_future(done)


class _ItemLedger(Ledger):
    """A ledger that also hands each entry to the item whose calls made it."""

    def record(self, entry: Entry) -> None:
        super().record(entry)
        found = _ITEM_ENTRIES.get()
        if found is not None:
            found.append(entry)


class _Worker:
    """The services of one ``RemoteItems`` in one worker process, on an event loop of their own."""

    def __init__(self, spec: RemoteItems) -> None:
        self.spec = spec
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="evoforum-items", daemon=True)
        self._thread.start()
        self._scorer: WorkflowScorer | None = None
        self._opening: asyncio.Lock | None = None
        self._closers: list[Callable[[], Any]] = []

    async def score(self, genome: Any, item: str, seed: int) -> ItemResult:
        scorer = await self._open()
        entries: list[Entry] = []
        token = _ITEM_ENTRIES.set(entries)
        try:
            result = await scorer.score(genome, item, seed)
        except RunError as error:  # failed as the batch runner would say, with its paid calls
            result = ItemResult((), error=f"{type(error).__name__}: {error}")
        finally:
            _ITEM_ENTRIES.reset(token)
        if isinstance(self.spec.budget, ActorBudget):
            await self.spec.budget.settled()
        return dataclasses.replace(result, info={**result.info, ENTRIES: entries})

    async def _open(self) -> WorkflowScorer:
        if self._scorer is not None:
            return self._scorer
        self._opening = self._opening or asyncio.Lock()
        async with self._opening:
            if self._scorer is None:
                self._scorer = await self._build()
        return self._scorer

    async def _build(self) -> WorkflowScorer:
        import experiments
        from evoforum.evolve.sandbox import Sandbox
        from evoforum.forum import Forum
        from evoforum.run._resources import model_client, open_store
        from evoforum.run._workflow import WorkflowScorer

        spec, config = self.spec, self.spec.config
        experiment = experiments.get(config.experiment.name, config.experiment.options, config.seed)
        store = await open_store(spec.postgres_url)
        self._closers.append(store.close)
        llm: Any = None
        if spec.llm_url is not None:
            client, cached = model_client(
                config, ledger=_ItemLedger(), store=store, url=spec.llm_url, model=spec.model,
                pool=spec.budget,
            )  # fmt: skip
            self._closers.insert(0, client.aclose)
            llm = cached or client
        return WorkflowScorer(
            experiment, llm=llm, forum=Forum(store), sandbox=Sandbox(spec.sandbox), model=spec.model,
            timeout_s=spec.timeout_s, cost_objective=spec.cost_objective,
        )  # fmt: skip

    def close(self) -> None:
        """Close the services (best effort: the worker process is ending) and stop the loop."""

        async def closing() -> None:
            for close in self._closers:
                with contextlib.suppress(Exception):  # nothing to report to at exit
                    await close()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(closing(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


_WORKERS: list[_Worker] = []
_LOCK = threading.Lock()


def _worker(spec: RemoteItems) -> _Worker:
    with _LOCK:
        for worker in _WORKERS:
            if worker.spec == spec:
                return worker
        if not _WORKERS:
            atexit.register(_close_all)
        worker = _Worker(spec)
        _WORKERS.append(worker)
        return worker


def _close_all() -> None:
    while _WORKERS:
        _WORKERS.pop().close()


class Tallied:
    """An evaluator whose results' model calls (made on workers) go into the driver's ``ledger``;
    a result that ran out of budget calls ``on_budget``."""

    def __init__(self, inner: Any, ledger: Ledger, on_budget: Callable[[], None]) -> None:
        self.inner = inner
        self.ledger = ledger
        self.on_budget = on_budget

    async def evaluate(self, jobs: Sequence[Job]) -> list[ItemResult]:
        results = await self.inner.evaluate(jobs)
        return [self._settle(result) for result in results]

    def _settle(self, result: ItemResult) -> ItemResult:
        if result.error is not None and result.error.startswith("BudgetExceeded"):
            self.on_budget()
        if ENTRIES not in result.info:
            return result
        info = dict(result.info)
        for entry in info.pop(ENTRIES):
            self.ledger.record(entry)
        return dataclasses.replace(result, info=info)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
