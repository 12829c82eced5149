"""A run's LLM budget, shared by the driver and its Ray workers.

``RunBudget`` is the driver's ``BudgetPool``: an ``Account`` in this process until it is sent to a
worker. Pickling it (Ray ships ``RemoteItems`` to the evaluation workers) moves the account into
a small Ray actor (no CPU) and pickles as ``ActorBudget``, a handle to that actor; from then on
every reservation of the run (the driver's LLM operators and every worker's workflows) goes
through the one actor, so the run's spending passes its budget only by what the calls in flight
spend beyond their reservations. A reservation is one actor round trip; a settlement is sent
without waiting (calls from one process reach the actor in the order they were sent).

``open_resources`` makes the run's ``RunBudget``; ``RemoteItems`` carry it to the workers.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from evoforum.errors import BackendError, BudgetExceeded, UsageError
from evoforum.llm.budget import Account, Budget


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
    """The driver's ``BudgetPool`` for a run on Ray: in-process until shared (see the module doc)."""

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
