"""Accounting: exact ledgers under injected faults, charge contexts, prices, budgets."""

from __future__ import annotations

import asyncio
import random

import pytest

from evoforum.errors import BudgetExceeded, EvoforumError, LLMError, Timeout
from evoforum.llm import Budget, Ledger, Limited, Metered, OpenAICompatible, Retrying, chat_request
from evoforum.llm.accounting import Price, PriceTable, charged_to, current_charge
from evoforum.llm.stub import StubServer


@pytest.mark.parametrize("seed", [11, 12, 13])
async def test_thirty_percent_faults_never_crash_and_the_ledger_matches_the_server(seed: int) -> None:
    async with StubServer(seed=seed, fault_rate=0.3, hang_seconds=60) as server:
        ledger = Ledger()
        # The timeout is long enough that only injected hangs run into it, never a slow answer.
        base = OpenAICompatible(server.url, "stub", timeout=3.0)
        client = Retrying(
            Metered(Limited(base, 32), ledger), rng=random.Random(1), attempts=6, base_delay=0.01
        )

        async def one(index: int) -> str:
            request = chat_request("stub", f"question {index}", max_tokens=64)
            with charged_to(operator="mutate" if index % 2 else "crossover", generation=index % 3):
                try:
                    return (
                        await client.complete(request, on_token=(lambda _: None) if index % 4 else None)
                    ).text
                except (LLMError, Timeout) as error:
                    return f"failed: {type(error).__name__}"

        results = await asyncio.gather(*(one(i) for i in range(120)))
        await client.aclose()
    stats = server.stats
    assert sum(stats.faults.values()) > 20
    assert sum(r.startswith("failed") for r in results) < 10
    total = ledger.total()
    assert total.calls == stats.answered
    assert total.prompt_tokens == stats.prompt_tokens
    assert total.completion_tokens == stats.completion_tokens
    by_operator = ledger.totals("operator")
    assert set(by_operator) == {"mutate", "crossover"}
    assert sum(t.calls for t in by_operator.values()) == total.calls
    assert sum(t.calls for t in ledger.totals("generation").values()) == total.calls


async def test_charge_contexts_nest_and_follow_tasks() -> None:
    with charged_to(experiment="e1", generation=2):
        with charged_to(candidate="c9"):
            inner = await asyncio.create_task(asyncio.sleep(0, result=current_charge()))
        outer = current_charge()
    assert (inner.experiment, inner.generation, inner.candidate) == ("e1", 2, "c9")
    assert outer.candidate is None
    assert current_charge().experiment is None


def test_prices_per_million_tokens() -> None:
    table = PriceTable(models={"gpt-x": Price(input_per_1m=2.0, output_per_1m=8.0)})
    assert table.cost("gpt-x", 1_000_000, 500_000) == pytest.approx(6.0)
    assert table.cost("local", 10**9, 10**9) == 0.0


async def test_token_budget_is_never_exceeded_and_every_paid_call_is_recorded(stub: StubServer) -> None:
    ledger = Ledger()
    budget = Budget(max_tokens=2_000)
    client = Metered(Limited(OpenAICompatible(stub.url, "stub"), 8), ledger, budget=budget)

    async def one(index: int) -> bool:
        try:
            await client.complete(chat_request("stub", f"tell me about item {index} please", max_tokens=40))
        except BudgetExceeded:
            return False
        return True

    done = await asyncio.gather(*(one(i) for i in range(100)))
    await client.aclose()
    assert 10 < sum(done) < 100
    assert ledger.total().calls == sum(done) == stub.stats.answered
    assert ledger.total().tokens <= 2_000
    assert client.reserved_tokens == 0


async def test_money_budget_overshoots_by_at_most_the_calls_in_flight(stub: StubServer) -> None:
    ledger = Ledger()
    prices = PriceTable(models={"stub": Price(input_per_1m=1_000.0, output_per_1m=1_000.0)})
    in_flight = 4
    # No max_tokens: the reservation is an estimate, so calls in flight may spend beyond it.
    client = Metered(
        Limited(OpenAICompatible(stub.url, "stub"), in_flight),
        ledger,
        prices=prices,
        budget=Budget(max_cost=0.5),
        default_max_tokens=1,
    )
    refused = 0
    for wave in range(30):
        outcomes = await asyncio.gather(
            *(client.complete(chat_request("stub", f"wave {wave} call {i}")) for i in range(in_flight)),
            return_exceptions=True,
        )
        refused += sum(isinstance(o, BudgetExceeded) for o in outcomes)
        assert not [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, BudgetExceeded)]
    await client.aclose()
    biggest = max(e.cost for e in ledger.entries)
    assert refused > 0
    assert ledger.total().cost <= 0.5 + in_flight * biggest
    assert ledger.total().calls == stub.stats.answered


async def test_budget_error_is_clear_and_picklable(stub: StubServer) -> None:
    import pickle

    client = Metered(OpenAICompatible(stub.url, "stub"), Ledger(), budget=Budget(max_tokens=5))
    with pytest.raises(BudgetExceeded, match="token budget of 5") as caught:
        await client.complete(chat_request("stub", "a long enough prompt to pass five tokens"))
    await client.aclose()
    again = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(again, EvoforumError)
    assert again.max_tokens == 5
