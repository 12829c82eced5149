"""Scoring workflow items on Ray workers: ``RemoteItems`` and the driver's ``Tallied``.

The driver's scorer closes over its forum store, model client and sandbox, none of which can be
shipped to a Ray worker. ``RemoteItems`` holds plain data instead (the config, the services' URLs,
the model name, the limits); its ``score`` opens, once per worker process, the forum store
(PostgreSQL at the same URL: transcripts and recorded answers land where the driver's do), the
model client (the driver's stack, recording in the store) and a sandbox, then runs the same
``WorkflowScorer`` as the driver. Those services live on one event loop in a thread of their own,
so the short-lived loops the evaluation trials run batches on can share them.

Model calls made on a worker are recorded in the worker's ledger and travel back with the item's
result (``info["llm_entries"]``, also when the item failed or the budget ran out midway);
``Tallied`` moves them into the driver's ledger, so the run's ``llm_calls``/``llm_tokens`` and its
accounting per experiment, generation, candidate and operator include them. With an LLM budget,
``budget`` is the run's shared budget (``RunBudget``): every worker's calls and the driver's
reserve in it, so the run as a whole passes its budget only by what calls in flight spend beyond
their reservations. A refused call fails its item with ``BudgetExceeded`` and the run stops.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from evoforum.config import ExperimentConfig
from evoforum.errors import ConfigError, RunError
from evoforum.evolve.evaluate import ItemResult, Job
from evoforum.llm import Ledger
from evoforum.llm.accounting import Entry
from evoforum.llm.budget import BudgetPool
from evoforum.run.llm import ActorBudget, llm_settings, model_client
from evoforum.run.resources import open_store
from evoforum.run.scoring import WorkflowScorer
from evoforum.run.workspace import Workspace
from evoforum.sandbox import Sandbox, SandboxLimits

ENTRIES = "llm_entries"
"""The key of ``ItemResult.info`` under which a worker's item carries the model calls it made."""
_ITEM_ENTRIES: ContextVar[list[Entry] | None] = ContextVar("evoforum_item_entries", default=None)


@dataclass(frozen=True)
class RemoteItems:
    """What a worker needs to score workflow items; ``score`` is the (picklable) item function."""

    config: ExperimentConfig
    postgres_url: str
    llm_url: str | None
    """The workers' model server (None in a replay, which asks none)."""
    model: str | None
    """The workers' model (None: the workflows ask no model)."""
    sandbox: SandboxLimits
    timeout_s: float
    objectives: tuple[str, ...] = ()
    """The objectives after quality (``WorkflowScorer.objectives``)."""
    files: Mapping[str, str] = field(default_factory=dict)
    """Files every sandboxed call gets (the tool libraries genome code imports)."""
    budget: BudgetPool | None = None
    """The run's shared budget (``Resources.budget``), if it has an LLM budget."""
    workspace: Workspace | None = None
    """Where the run's bus and memory live (``Resources.workspace``)."""

    @classmethod
    def of(
        cls,
        scorer: WorkflowScorer,
        config: ExperimentConfig,
        urls: dict[str, str | None],
        budget: BudgetPool | None,
        workspace: Workspace | None = None,
    ) -> RemoteItems:
        """The picklable twin of the driver's ``scorer``, for Ray workers: they reach the run's
        services at ``urls``."""
        postgres = urls.get("postgres")
        if postgres is None:
            raise ConfigError("evaluation.backend 'ray': a workflow experiment needs the run's forum store")
        return cls(
            config=config,
            postgres_url=postgres,
            llm_url=urls.get("llm") if scorer.llm else None,
            model=scorer.model if scorer.llm else None,
            sandbox=scorer.sandbox.limits,
            timeout_s=scorer.timeout_s,
            objectives=scorer.objectives,
            budget=budget,
            files=scorer.sandbox.files,
            workspace=workspace,
        )

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
        from evoforum.forum import Forum

        spec, config = self.spec, self.spec.config
        experiment = experiments.get(config.experiment.name, config.experiment.options, config.seed)
        store = await open_store(spec.postgres_url)
        self._closers.append(store.close)
        forum = Forum(store)
        bus = memory = None
        if spec.workspace is not None:
            shared = AsyncExitStack()
            self._closers.insert(0, shared.aclose)
            bus, memory = await spec.workspace.open(shared, forum)
        llm: Any = None
        if spec.model is not None:
            client, cached = model_client(
                llm_settings(config),
                seed=config.seed,
                ledger=_ItemLedger(),
                store=store,
                url=spec.llm_url,
                model=spec.model,
                pool=spec.budget,
            )
            self._closers.insert(0, client.aclose)
            llm = cached or client
        return WorkflowScorer(
            experiment,
            llm=llm,
            forum=forum,
            bus=bus,
            memory=memory,
            sandbox=Sandbox(spec.sandbox, files=spec.files),
            model=spec.model,
            timeout_s=spec.timeout_s,
            objectives=spec.objectives,
        )

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
