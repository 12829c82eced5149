"""The run's language-model layers, settings and shared budget.

``Cached`` sits on top of a recording client: a request answered before (in this run, a killed
run being resumed, or any run sharing the store) is served from the record, chat and embeddings
alike, without asking the model but charged to the run's ledger and budget at its recorded usage
(so a run's token count, and where its budget stops it, do not depend on what the store already
held); anything else is asked and recorded. ``Sampling`` is what one workflow run or
operator call sees: it sets the model name, a sampling seed and a token cap on every request, and
counts tokens. A request that names a call-site seed (``evoforum.genome.runnable.call_seed``: task
path and attempt) is sent with that seed mixed with the run's seed and the item's id, so k samples
of one prompt differ, and the same run asks the same requests (whose hashes, seed included, key
the record and the cache). ``llm_settings`` and ``model_client`` make the run's client (the
driver's, or a Ray worker's) from the experiment config; ``operator_settings`` those of the LLM
operators' own model (``operators.llm``), whose calls go into the same ledger, budget and record.

``RunBudget`` is the driver's ``BudgetPool`` when more than one client spends the run's LLM budget
(a run on Ray, or operators with a model of their own): an ``Account`` in this process until it is
sent to a worker. Pickling it (Ray ships ``RemoteItems`` to the evaluation workers) moves the
account into a small Ray actor (no CPU) and pickles as ``ActorBudget``, a handle to that actor;
from then on every reservation of the run (the driver's LLM operators and every worker's
workflows) goes through the one actor, so the run's spending passes its budget only by what the
calls in flight spend beyond their reservations. A reservation is one actor round trip; a
settlement is sent without waiting (calls from one process reach the actor in the order they were
sent).
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
from collections.abc import Sequence
from typing import Any

from evoforum.config import ExperimentConfig
from evoforum.errors import BackendError, BudgetExceeded, ConfigError, UsageError
from evoforum.evolve.rng import derive_seed
from evoforum.llm import Budget, Completion, Ledger, Limited, LLMClient, Recording, TokenSink
from evoforum.llm._tokens import count_prompt
from evoforum.llm.accounting import Price, PriceTable, meter_below
from evoforum.llm.budget import Account, BudgetPool
from evoforum.llm.config import LLMConfig, build_client
from evoforum.llm.protocol import Wrapper
from evoforum.llm.types import ChatRequest


class Cached(Wrapper):
    """Serve a request from ``recording``'s record when it is there, else ask ``inner``. A served
    answer is charged to the ``Metered`` layer below at its recorded usage, as if it were asked."""

    def __init__(self, inner: LLMClient, recording: Recording) -> None:
        super().__init__(inner)
        self.recording = recording
        self.meter = meter_below(inner)
        self.hits = 0

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        found = await self.recording.lookup(request)
        if found is None:
            return await self.inner.complete(request, on_token=on_token)
        if self.meter is not None:
            await self.meter.charge_recorded(request, found)
        self.hits += 1
        if on_token is not None:
            on_token(found.text)
        return found

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> list[list[float]]:
        found = await self.recording.lookup_vectors(texts, model)
        if found is None:
            return await self.inner.embed(texts, model=model)
        if self.meter is not None:
            await self.meter.charge_recorded_embedding(texts, model)
        self.hits += 1
        return found


class Sampling(Wrapper):
    """Sets ``model`` (when given), the seed and a ``max_tokens`` cap on each request; counts the
    tokens of its calls, embeddings included.

    The seed is ``seed`` for a request that names none, else ``sampling_seed(seed, item, its
    seed)``."""

    def __init__(
        self,
        inner: LLMClient,
        *,
        seed: int,
        item: str = "",
        model: str | None = None,
        max_tokens: int = 512,
    ) -> None:
        super().__init__(inner)
        self.seed = seed
        self.item = item
        self.model = model
        self.max_tokens = max_tokens
        self.tokens = 0
        self.calls = 0

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        site = request.params.seed
        seed = self.seed if site is None else sampling_seed(self.seed, self.item, site)
        params = request.params.model_copy(
            update={"seed": seed, "max_tokens": request.params.max_tokens or self.max_tokens}
        )
        # a fresh request, not model_copy: the copy would keep the cached hash of the original
        request = ChatRequest(
            model=self.model or request.model,
            messages=request.messages,
            params=params,
            output_schema=request.output_schema,
            schema_name=request.schema_name,
        )
        completion = await self.inner.complete(request, on_token=on_token)
        self.calls += 1
        self.tokens += completion.usage.prompt_tokens + completion.usage.completion_tokens
        return completion

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> list[list[float]]:
        """The vectors of ``texts``; their tokens (as the ledger counts an embedding's) join the
        item's, so a workflow that recalls pays for it in the cost objective too."""
        vectors = await self.inner.embed(texts, model=model)
        self.tokens += count_prompt(texts)
        return vectors

    async def aclose(self) -> None:
        return None  # the shared client below is closed by its owner


def calls_in_flight(*clients: LLMClient | None) -> tuple[int, int]:
    """Model calls sent and not yet answered, and calls waiting for a slot, over the ``Limited``
    layers of ``clients`` (a layer two clients share counts once)."""
    layers: dict[int, Limited] = {}
    for client in clients:
        layer: Any = client
        while layer is not None:
            if isinstance(layer, Limited):
                layers[id(layer)] = layer
            layer = getattr(layer, "inner", None)
    return sum(x.in_flight for x in layers.values()), sum(x.queued for x in layers.values())


def sampling_seed(run_seed: int, item: str, site: int) -> int:
    """The seed a call is sent with: (run seed, item, call-site seed) hashed to 31 bits."""
    return derive_seed(run_seed, item, site) & 0x7FFFFFFF


def model_client(
    settings: LLMConfig,
    *,
    seed: int,
    ledger: Ledger,
    store: Any,
    url: str | None,
    model: str | None,
    pool: BudgetPool | None = None,
    slots: int | None = None,
) -> tuple[LLMClient, Cached | None]:
    """The model client of ``settings`` (the driver's, a Ray worker's, or the operators' own) and,
    in ``record`` mode, the ``Cached`` layer on top of it that serves recorded answers; the first
    is the one to close. With ``pool`` the budget is the pool's, shared with other clients."""
    client = build_client(
        settings,
        ledger=ledger,
        rng=random.Random(seed),
        store=store,
        url=url,
        model=model,
        pool=pool,
        slots=slots,
    )
    if isinstance(client, Recording) and settings.mode == "record":
        return client, Cached(client, client)
    return client, None


def llm_settings(config: ExperimentConfig, spent: tuple[int, float] = (0, 0.0)) -> LLMConfig:
    """The LLM layer's config from the experiment config's ``llm`` and ``budget`` sections; the
    budgets are what is left after ``spent`` (tokens, dollars) of earlier sessions of the run."""
    section = config.llm

    prices = PriceTable(
        models={
            name: Price(input_per_1m=p.prompt, output_per_1m=p.completion)
            for name, p in section.prices.items()
        }
    )
    given: dict[str, Any] = {
        "url": section.url,
        "model": section.model,
        "api_key": os.environ.get(section.api_key_env),
    }
    given = {key: value for key, value in given.items() if value}
    return LLMConfig.from_env(
        None,
        **given,
        timeout=section.timeout_s,
        attempts=section.retries + 1,
        max_concurrent=section.max_concurrency,
        mode=section.mode,
        prices=prices,
        budget=Budget(
            max_tokens=max(1, config.budget.llm_tokens - spent[0]) if config.budget.llm_tokens else None,
            max_cost=max(1e-9, config.budget.cost_usd - spent[1]) if config.budget.cost_usd else None,
        ),
    )


def operator_settings(config: ExperimentConfig, spent: tuple[int, float] = (0, 0.0)) -> LLMConfig | None:
    """The LLM config of the operators' own model (``operators.llm``; None: they share the
    workers' client): ``llm_settings`` with the section's server, model, key, timeout and
    concurrency. A key the section names must be in the environment, except for a replay (which
    asks no server); ``ConfigError`` otherwise."""
    section = config.operators.llm
    if section is None:
        return None
    run = llm_settings(config, spent)
    update: dict[str, Any] = {
        "model": section.model,
        "timeout": section.timeout_s or run.timeout,
        "max_concurrent": section.max_concurrency,
    }
    if section.url is not None:
        update |= {"url": section.url, "api_key": None}  # never the workers' key to another server
    if section.api_key_env is not None:
        key = os.environ.get(section.api_key_env)
        if not key and run.mode != "replay":
            raise ConfigError(
                f"operators.llm.api_key_env: the environment variable {section.api_key_env} is not set"
            )
        update["api_key"] = key
    return run.model_copy(update=update)


class BudgetActor:
    """The Ray actor's class: one ``Account``, its methods called one at a time."""

    def __init__(self, account: Account) -> None:
        self.account = account

    def reserve(self, tokens: int, cost: float) -> BudgetExceeded | None:
        """The refusal, returned rather than raised (Ray would wrap a raised one)."""
        try:
            self.account.take(tokens, cost)
        except BudgetExceeded as refused:
            return refused
        return None

    def settle(self, tokens: int, cost: float, used_tokens: int, used_cost: float) -> None:
        self.account.settle(tokens, cost, used_tokens, used_cost)

    def snapshot(self) -> Account:
        return self.account

    def lift(self) -> None:
        self.account.budget = Budget()


class ActorBudget:
    """A ``BudgetPool`` that is a handle to a ``BudgetActor`` (what a worker holds)."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self._last: Any = None  # the last settlement sent: the actor runs them in order

    async def reserve(self, tokens: int, cost: float) -> None:
        try:
            refused = await self.handle.reserve.remote(tokens, cost)
        except Exception as error:  # vendor error, translated at the seam
            raise BackendError(f"the run's budget keeper did not answer: {error}") from None
        if refused is not None:
            raise refused

    def settle(self, tokens: int, cost: float, used_tokens: int, used_cost: float) -> None:
        self._last = self.handle.settle.remote(tokens, cost, used_tokens, used_cost)

    async def settled(self) -> None:
        """Wait until the actor has taken every settlement sent from here (before a worker hands
        back the item whose calls they were, so the driver never sees results the budget has not)."""
        last = self._last
        if last is not None:
            with contextlib.suppress(Exception):  # the actor is gone: nothing left to settle in
                await last

    async def snapshot(self) -> Account:
        account: Account = await self.handle.snapshot.remote()
        return account

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorBudget) and self.handle == other.handle

    def __hash__(self) -> int:
        return hash(self.handle)


class RunBudget:
    """The driver's ``BudgetPool`` when several clients spend the run's budget: in-process until
    shared with Ray workers (see the module doc)."""

    def __init__(self, budget: Budget) -> None:
        self.account = Account(budget)
        self._shared: ActorBudget | None = None
        self._lock = threading.Lock()  # pickling may happen on another thread than the calls

    @property
    def shared(self) -> bool:
        return self._shared is not None

    def share(self) -> ActorBudget:
        """The actor holding the account from now on (made on first call; Ray must be running)."""
        with self._lock:
            if self._shared is None:
                import ray

                if not ray.is_initialized():
                    raise UsageError("a run's budget can be shared only with a running Ray")
                actor = ray.remote(num_cpus=0, max_restarts=0)(BudgetActor)
                self._shared = ActorBudget(actor.remote(self.account))
            return self._shared

    async def reserve(self, tokens: int, cost: float) -> None:
        with self._lock:
            shared = self._shared
            if shared is None:
                self.account.take(tokens, cost)
                return
        await shared.reserve(tokens, cost)

    def settle(self, tokens: int, cost: float, used_tokens: int, used_cost: float) -> None:
        with self._lock:
            shared = self._shared
            if shared is None:
                self.account.settle(tokens, cost, used_tokens, used_cost)
                return
        shared.settle(tokens, cost, used_tokens, used_cost)

    async def lift(self) -> None:
        """No limit from now on (the account goes on counting): see ``Resources.lift_budget``."""
        with self._lock:
            self.account.budget = Budget()
            shared = self._shared
        if shared is not None:
            await shared.handle.lift.remote()

    async def snapshot(self) -> Account:
        """The account as it stands (from the actor once shared)."""
        shared = self._shared
        return self.account if shared is None else await shared.snapshot()

    async def aclose(self) -> None:
        """End the actor, if any, keeping its last state here (Ray may already be down, the actor
        with it)."""
        shared = self._shared
        if shared is None:
            return
        import ray

        if ray.is_initialized():
            with contextlib.suppress(Exception):  # the actor is gone: its state with it
                self.account = await shared.snapshot()
            with contextlib.suppress(Exception):
                ray.kill(shared.handle)
        self._shared = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return ActorBudget, (self.share().handle,)
