"""Budgets: limits on tokens and money, and the account that reserves and settles calls against one.

A call reserves what it may spend at most (prompt estimate + its ``max_tokens``, and their price)
before it is sent, and settles what it really spent once answered (nothing when it failed). A
reservation that would take spent + reserved past a limit is refused with ``BudgetExceeded``, so
the total spent passes a limit only by what calls in flight spend beyond their reservations.

``Metered`` keeps this bookkeeping itself, against its ledger, for the calls of one process. A
``BudgetPool`` passed to it instead holds the bookkeeping for many clients, possibly in many
processes (``Account`` is the in-process one; a Ray actor wrapping an ``Account`` serves a whole
run's workers).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from evoforum.errors import BudgetExceeded


class Budget(BaseModel):
    """Limits on tokens (prompt + completion) and money; None means no limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_tokens: int | None = None
    max_cost: float | None = None

    @property
    def limited(self) -> bool:
        """Whether any limit is set."""
        return self.max_tokens is not None or self.max_cost is not None


def check_fits(
    budget: Budget, spent: tuple[int, float], reserved: tuple[int, float], need: tuple[int, float]
) -> None:
    """Raise ``BudgetExceeded`` unless ``need`` (tokens, dollars) fits beside ``spent`` and ``reserved``."""
    if budget.max_tokens is not None and spent[0] + reserved[0] + need[0] > budget.max_tokens:
        raise BudgetExceeded(
            f"token budget of {budget.max_tokens} reached ({spent[0]} spent, "
            f"{reserved[0]} reserved, this call needs up to {need[0]})",
            spent_tokens=spent[0],
            max_tokens=budget.max_tokens,
        )
    if budget.max_cost is not None and spent[1] + reserved[1] + need[1] > budget.max_cost:
        raise BudgetExceeded(
            f"money budget of ${budget.max_cost:g} reached (${spent[1]:.6f} spent, "
            f"${reserved[1]:.6f} reserved, this call needs up to ${need[1]:.6f})",
            spent_cost=spent[1],
            max_cost=budget.max_cost,
        )


@runtime_checkable
class BudgetPool(Protocol):
    """Where ``Metered`` reserves and settles its calls when the budget is shared."""

    async def reserve(self, tokens: int, cost: float) -> None:
        """Hold ``tokens`` and ``cost`` for one call, or raise ``BudgetExceeded``."""
        ...

    def settle(self, tokens: int, cost: float, used_tokens: int, used_cost: float) -> None:
        """Release a reservation of ``tokens``/``cost``; the call spent ``used_tokens``/``used_cost``.

        Returns at once (it is called in ``finally`` blocks, also of cancelled calls).
        """
        ...


class Account:
    """Spent and reserved tokens and dollars against a ``Budget``: the in-process ``BudgetPool``.

    ``spent`` starts at what was spent before (a resumed run's earlier sessions count against
    ``budget`` only if they are passed here).
    """

    def __init__(self, budget: Budget, spent: tuple[int, float] = (0, 0.0)) -> None:
        self.budget = budget
        self.spent_tokens, self.spent_cost = spent
        self.reserved_tokens = 0
        self.reserved_cost = 0.0
        self.calls = 0
        self.refused = 0

    def take(self, tokens: int, cost: float) -> None:
        """Reserve now, or raise ``BudgetExceeded`` (and count the refusal)."""
        try:
            check_fits(
                self.budget,
                (self.spent_tokens, self.spent_cost),
                (self.reserved_tokens, self.reserved_cost),
                (tokens, cost),
            )
        except BudgetExceeded:
            self.refused += 1
            raise
        self.reserved_tokens += tokens
        self.reserved_cost += cost

    async def reserve(self, tokens: int, cost: float) -> None:
        self.take(tokens, cost)

    def settle(self, tokens: int, cost: float, used_tokens: int, used_cost: float) -> None:
        self.reserved_tokens -= tokens
        self.reserved_cost -= cost
        self.spent_tokens += used_tokens
        self.spent_cost += used_cost
        if used_tokens or used_cost:
            self.calls += 1

    def remaining(self) -> tuple[int | None, float | None]:
        """Tokens and dollars not yet spent nor reserved (None where there is no limit)."""
        tokens = self.budget.max_tokens
        cost = self.budget.max_cost
        return (
            None if tokens is None else tokens - self.spent_tokens - self.reserved_tokens,
            None if cost is None else cost - self.spent_cost - self.reserved_cost,
        )
