"""Shared budgets: the ``Account`` bookkeeping, and clients with ledgers of their own (as on separate
workers) reserving in one pool, against the stub server."""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import random

import pytest

from evoforum.errors import BudgetExceeded, LLMError, Timeout
from evoforum.llm import (
    Budget,
    BudgetPool,
    Ledger,
    Limited,
    Metered,
    OpenAICompatible,
    Retrying,
    chat_request,
)
from evoforum.llm.accounting import Price, PriceTable
from evoforum.llm.budget import Account
from evoforum.llm.stub import StubServer


def test_an_account_reserves_until_the_limit_and_settles_what_was_spent() -> None:
    account = Account(Budget(max_tokens=100))
    account.take(60, 0.0)
    account.take(40, 0.0)  # exactly at the limit still fits
    with pytest.raises(BudgetExceeded, match="token budget of 100") as refused:
        account.take(1, 0.0)
    assert refused.value.details["max_tokens"] == 100
    assert account.remaining() == (0, None)
    account.settle(60, 0.0, 25, 0.0)  # answered with fewer tokens than reserved
    account.settle(40, 0.0, 0, 0.0)  # failed: nothing spent
    assert (account.spent_tokens, account.reserved_tokens) == (25, 0)
    assert account.remaining() == (75, None)
    assert (account.calls, account.refused) == (1, 1)
    account.take(75, 0.0)


def test_an_account_limits_money_too_and_survives_pickling() -> None:
    account = Account(Budget(max_cost=1.0), spent=(10, 0.75))
    with pytest.raises(BudgetExceeded, match="money budget"):
        account.take(0, 0.5)
    account.take(5, 0.25)
    copy = pickle.loads(pickle.dumps(account))
    assert (copy.spent_cost, copy.reserved_cost, copy.refused) == (0.75, 0.25, 1)
    assert isinstance(copy, BudgetPool)


def test_an_unlimited_account_never_refuses() -> None:
    account = Account(Budget())
    assert not account.budget.limited
    for _ in range(1000):
        account.take(10**6, 10.0)
    assert account.remaining() == (None, None)


async def _spend(client: Metered, tag: str, calls: int, max_tokens: int = 40) -> int:
    async def one(index: int) -> bool:
        try:
            await client.complete(
                chat_request("stub", f"{tag}: tell me about item {index}", max_tokens=max_tokens)
            )
        except BudgetExceeded:
            return False
        return True

    return sum(await asyncio.gather(*(one(i) for i in range(calls))))


async def test_clients_sharing_a_pool_stay_within_it_and_each_records_its_calls(stub: StubServer) -> None:
    pool = Account(Budget(max_tokens=3_000))
    ledgers = [Ledger() for _ in range(3)]
    clients = [
        Metered(
            Limited(OpenAICompatible(stub.url, "stub"), 4), ledger, budget=Budget(max_tokens=3_000), pool=pool
        )
        for ledger in ledgers
    ]
    try:
        answered = await asyncio.gather(*(_spend(c, f"worker {i}", 60) for i, c in enumerate(clients)))
    finally:
        for client in clients:
            await client.aclose()
    total = sum(ledger.total().tokens for ledger in ledgers)
    assert 0 < sum(answered) < 180
    assert sum(ledger.total().calls for ledger in ledgers) == sum(answered) == stub.stats.answered
    assert total == pool.spent_tokens <= 3_000
    assert pool.reserved_tokens == 0
    assert pool.refused == 180 - sum(answered)
    assert all(client.reserved_tokens == 0 for client in clients)


async def test_without_a_pool_each_client_keeps_its_own_budget(stub: StubServer) -> None:
    """What the pool is for: budgets enforced per process add up past the limit."""
    ledgers = [Ledger() for _ in range(3)]
    clients = [
        Metered(OpenAICompatible(stub.url, "stub"), ledger, budget=Budget(max_tokens=1_000))
        for ledger in ledgers
    ]
    try:
        await asyncio.gather(*(_spend(c, f"worker {i}", 40) for i, c in enumerate(clients)))
    finally:
        for client in clients:
            await client.aclose()
    assert all(ledger.total().tokens <= 1_000 for ledger in ledgers)
    assert sum(ledger.total().tokens for ledger in ledgers) > 1_000


async def test_failed_and_cancelled_calls_give_their_reservation_back() -> None:
    prices = PriceTable(models={"stub": Price(input_per_1m=100.0, output_per_1m=100.0)})
    pool = Account(Budget(max_tokens=50_000, max_cost=100.0))
    async with StubServer(seed=3, fault_rate=0.3, hang_seconds=60) as server:
        ledger = Ledger()
        base = OpenAICompatible(server.url, "stub", timeout=2.0)
        client = Retrying(
            Metered(base, ledger, prices=prices, pool=pool), rng=random.Random(0), base_delay=0.01
        )

        async def one(index: int) -> None:
            with contextlib.suppress(LLMError, Timeout):
                await client.complete(chat_request("stub", f"question {index}", max_tokens=30))

        await asyncio.gather(*(one(i) for i in range(40)))
        slow = asyncio.create_task(client.complete(chat_request("stub", "never mind", max_tokens=30)))
        await asyncio.sleep(0)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        await client.aclose()
    assert sum(server.stats.faults.values()) > 0
    assert pool.reserved_tokens == 0
    assert pool.reserved_cost == pytest.approx(0.0, abs=1e-12)
    assert (
        pool.spent_tokens
        == ledger.total().tokens
        == server.stats.prompt_tokens + server.stats.completion_tokens
    )
    assert pool.spent_cost == pytest.approx(ledger.total().cost)
    assert pool.calls == ledger.total().calls == server.stats.answered
