"""Accounting: tokens and cost of every call, charged to the context the caller set.

``charged_to(experiment=..., generation=..., candidate=..., operator=...)`` sets the context for
the calls made inside it (a ``contextvars`` variable, so it follows asyncio tasks). ``Metered``
reserves a call's estimated tokens and cost before the call and settles them after, so a
``Budget`` is never exceeded by more than what the calls already in flight spend beyond their
estimates; a call that would not fit is refused with ``BudgetExceeded``. Every answered call is
recorded in the ``Ledger``, also the one that uses the budget up. An answer served from the record
instead of the server (a replay, or a request asked before: ``Metered.charge_recorded``) is charged
too, at the usage it was recorded with, and marked ``recorded``: what a run spends is what its
callers received, so a rerun, a resume or a replay of a run spends the same tokens and stops at
the same budget as the run that asked the server. With a ``BudgetPool``
(``evoforum.llm.budget``) the reservations are made in the pool instead, so clients in several
processes share one budget while each records its calls in its own ledger.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from evoforum.llm._tokens import count_prompt
from evoforum.llm.budget import Budget, BudgetPool, check_fits
from evoforum.llm.protocol import LLMClient, TokenSink, Wrapper
from evoforum.llm.types import ChatRequest, Completion, Usage


class Charge(BaseModel):
    """Who pays for a call: the experiment, generation, candidate and operator (any may be None)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    experiment: str | None = None
    generation: int | None = None
    candidate: str | None = None
    operator: str | None = None


_NOBODY = Charge()
EMBEDDING = "embedding"
"""The model name embeddings are charged to when a call names none."""
_CHARGE: ContextVar[Charge | None] = ContextVar("evoforum_llm_charge", default=None)

ChargeKey = Literal["experiment", "generation", "candidate", "operator", "model"]


def current_charge() -> Charge:
    """The charge context of the calling task."""
    return _CHARGE.get() or _NOBODY


@contextmanager
def charged_to(**fields: Any) -> Iterator[Charge]:
    """Charge the calls made inside to ``fields``, merged over the enclosing context."""
    charge = current_charge().model_copy(update=Charge(**fields).model_dump(exclude_unset=True))
    token = _CHARGE.set(charge)
    try:
        yield charge
    finally:
        _CHARGE.reset(token)


class Price(BaseModel):
    """Dollars per one million tokens in (prompt) and out (completion)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_1m: float = 0.0
    output_per_1m: float = 0.0


class PriceTable(BaseModel):
    """Prices per model name; a model not listed costs nothing (local models)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: dict[str, Price] = {}

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        price = self.models.get(model)
        if price is None:
            return 0.0
        return (prompt_tokens * price.input_per_1m + completion_tokens * price.output_per_1m) / 1e6


class Entry(BaseModel):
    """One answered call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["chat", "embed"]
    model: str
    request_hash: str | None
    charge: Charge
    prompt_tokens: int
    completion_tokens: int
    cost: float
    counted: bool = False
    recorded: bool = False
    """Served from the record, not asked of the server."""


class Totals(BaseModel):
    """Sums over ledger entries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    recorded_calls: int = 0
    """Of ``calls``, those served from the record."""
    recorded_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def plus(self, entry: Entry) -> Totals:
        return Totals(
            calls=self.calls + 1,
            prompt_tokens=self.prompt_tokens + entry.prompt_tokens,
            completion_tokens=self.completion_tokens + entry.completion_tokens,
            cost=self.cost + entry.cost,
            recorded_calls=self.recorded_calls + entry.recorded,
            recorded_tokens=self.recorded_tokens
            + (entry.prompt_tokens + entry.completion_tokens if entry.recorded else 0),
        )


class Ledger:
    """Every answered call, in order, with totals overall and per charge key."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self._total = Totals()

    def record(self, entry: Entry) -> None:
        self.entries.append(entry)
        self._total = self._total.plus(entry)

    def total(self) -> Totals:
        return self._total

    def totals(self, by: ChargeKey) -> dict[Any, Totals]:
        """Totals per value of ``by`` (a charge field, or ``"model"``)."""
        result: dict[Any, Totals] = {}
        for entry in self.entries:
            key = entry.model if by == "model" else getattr(entry.charge, by)
            result[key] = result.get(key, Totals()).plus(entry)
        return result


class Metered(Wrapper):
    """Charges each answered call to the current ``Charge`` and enforces ``budget``.

    A call reserves ``prompt estimate + (params.max_tokens or default_max_tokens)`` tokens and
    their price; it is refused if spent + reserved + this reservation would pass a limit. Spent
    is the ledger's total, unless ``pool`` is given: then ``pool`` holds the reservations and
    what was spent, and ``budget`` is not consulted (the pool has its own).
    """

    def __init__(
        self,
        inner: LLMClient,
        ledger: Ledger,
        *,
        prices: PriceTable | None = None,
        budget: Budget | None = None,
        default_max_tokens: int = 1024,
        pool: BudgetPool | None = None,
    ) -> None:
        super().__init__(inner)
        self.ledger = ledger
        self.prices = prices or PriceTable()
        self.budget = budget or Budget()
        self.default_max_tokens = default_max_tokens
        self.pool = pool
        self.reserved_tokens = 0
        self.reserved_cost = 0.0

    async def _reserve(self, model: str, prompt: int, completion: int) -> tuple[int, float]:
        tokens, cost = prompt + completion, self.prices.cost(model, prompt, completion)
        if self.pool is not None:
            await self.pool.reserve(tokens, cost)
        else:
            total = self.ledger.total()
            check_fits(
                self.budget,
                (total.tokens, total.cost),
                (self.reserved_tokens, self.reserved_cost),
                (tokens, cost),
            )
        self.reserved_tokens += tokens
        self.reserved_cost += cost
        return tokens, cost

    def _settle(self, reservation: tuple[int, float], used: Usage | None, model: str) -> None:
        tokens, cost = reservation
        self.reserved_tokens -= tokens
        self.reserved_cost -= cost
        if self.pool is not None:
            spent = (0, 0.0)
            if used is not None:
                spent = (
                    used.prompt_tokens + used.completion_tokens,
                    self.prices.cost(model, used.prompt_tokens, used.completion_tokens),
                )
            self.pool.settle(tokens, cost, *spent)

    def _record(
        self,
        kind: Literal["chat", "embed"],
        model: str,
        request_hash: str | None,
        usage: Usage,
        recorded: bool = False,
    ) -> None:
        cost = self.prices.cost(model, usage.prompt_tokens, usage.completion_tokens)
        self.ledger.record(
            Entry(
                kind=kind,
                model=model,
                request_hash=request_hash,
                charge=current_charge(),
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cost=cost,
                counted=usage.counted,
                recorded=recorded,
            )
        )

    async def charge_recorded(self, request: ChatRequest, completion: Completion) -> None:
        """Charge an answer that a layer above served from the record, as if this layer had asked
        for it: refused with ``BudgetExceeded`` when it does not fit, else recorded as ``recorded``."""
        await self._charge("chat", request.model, request.hash, completion.usage)

    async def charge_recorded_embedding(self, texts: Sequence[str], model: str | None) -> None:
        """``charge_recorded`` for embeddings of ``texts`` served from the record."""
        await self._charge(
            "embed", model or EMBEDDING, None, Usage(prompt_tokens=count_prompt(texts), counted=True)
        )

    async def _charge(
        self, kind: Literal["chat", "embed"], model: str, request_hash: str | None, usage: Usage
    ) -> None:
        reservation = await self._reserve(model, usage.prompt_tokens, usage.completion_tokens)
        self._settle(reservation, usage, model)
        self._record(kind, model, request_hash, usage, recorded=True)

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        prompt = count_prompt(m.content for m in request.messages)
        reservation = await self._reserve(
            request.model, prompt, request.params.max_tokens or self.default_max_tokens
        )
        try:
            completion = await self.inner.complete(request, on_token=on_token)
        except BaseException:
            self._settle(reservation, None, request.model)
            raise
        self._settle(reservation, completion.usage, request.model)
        self._record("chat", request.model, request.hash, completion.usage, recorded=completion.replayed)
        return completion

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> list[list[float]]:
        name = model or EMBEDDING
        prompt = count_prompt(texts)
        reservation = await self._reserve(name, prompt, 0)
        used: Usage | None = None
        try:
            vectors = await self.inner.embed(texts, model=model)
            used = Usage(prompt_tokens=prompt, counted=True)
        finally:
            self._settle(reservation, used, name)
        self._record("embed", name, None, used)
        return vectors


def meter_below(client: LLMClient) -> Metered | None:
    """The first ``Metered`` layer at or below ``client`` (following ``inner``), or None."""
    layer: Any = client
    while layer is not None:
        if isinstance(layer, Metered):
            return layer
        layer = getattr(layer, "inner", None)
    return None
