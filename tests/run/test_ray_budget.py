"""A run's LLM budget on Ray: the driver and every worker reserve in one shared budget, and every
paid call lands in the driver's ledger.

Real Ray (2 CPUs), real PostgreSQL, and the seeded stub model behind the real client. The stub
counts tokens exactly as a reservation estimates them, so no call can spend past its reservation:
a shared budget then holds exactly, while budgets kept per process would add up past it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

import experiments
import search_spaces
from evoforum.config import ExperimentConfig, load_config
from evoforum.errors import BudgetExceeded
from evoforum.evolve import RayTuneEvaluator
from evoforum.evolve.evaluate import Job
from evoforum.evolve.lineage import read_lineage
from evoforum.forum import Forum, PostgresStore
from evoforum.llm import Budget, Ledger, Metered, OpenAICompatible
from evoforum.llm.stub import StubServer
from evoforum.run import run_experiment
from evoforum.run.llm import RunBudget
from evoforum.run.remote import RemoteItems, Tallied
from evoforum.run.resources import _shared_budget
from evoforum.run.scoring import WorkflowScorer
from evoforum.sandbox import Sandbox, SandboxLimits

QUICKSTART = Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml"
WORKERS = 2
MAX_TOKENS_PER_CALL = 512  # the workflows' cap (``Sampling``); the LLM operators ask for fewer


@pytest.fixture
async def stub() -> AsyncIterator[StubServer]:
    async with StubServer(seed=5) as server:
        yield server


def on_ray(postgres_url: str, llm_url: str, *overrides: str) -> ExperimentConfig:
    return load_config(
        QUICKSTART,
        [
            f"runtime.postgres_url={postgres_url}", f"llm.url={llm_url}", "llm.model=stub", "llm.mode=live",
            "evaluation.backend=ray", f"evaluation.concurrency={WORKERS}", "experiment.options.seeds=[0,1]",
            "algorithm.population=2", "algorithm.offspring=2", "algorithm.generations=1", *overrides,
        ],
    )  # fmt: skip


async def test_only_a_run_on_ray_with_an_llm_budget_shares_it() -> None:
    base = ["runtime.postgres_url=postgresql://x@127.0.0.1/x", "llm.url=http://127.0.0.1:1/v1"]
    local = load_config(QUICKSTART, [*base, "budget.llm_tokens=100"])
    unlimited = load_config(QUICKSTART, [*base, "evaluation.backend=ray"])
    limited = load_config(QUICKSTART, [*base, "evaluation.backend=ray", "budget.llm_tokens=100"])
    async with AsyncExitStack() as stack:
        assert _shared_budget(stack, local, (0, 0.0)) is None
        assert _shared_budget(stack, unlimited, (0, 0.0)) is None
        pool = _shared_budget(stack, limited, (40, 0.0))  # 40 tokens spent by an earlier session
        assert pool is not None
        assert pool.account.budget.max_tokens == 60
        assert not pool.shared


@pytest.mark.services
async def test_the_driver_and_ray_workers_reserve_in_one_budget(ray_session: None) -> None:
    import ray

    budget = RunBudget(Budget(max_tokens=1_000))
    await budget.reserve(100, 0.0)  # a driver call in flight before the budget is shared
    assert not budget.shared

    def grab(pool: Any, tries: int) -> tuple[str, int]:
        async def run() -> int:
            granted = 0
            for _ in range(tries):
                try:
                    await pool.reserve(100, 0.0)
                except BudgetExceeded:
                    continue
                granted += 1
            return granted

        return type(pool).__name__, asyncio.run(run())

    grabbing = ray.remote(num_cpus=0)(grab)
    found = await asyncio.gather(*(grabbing.remote(budget, 8) for _ in range(WORKERS)))
    assert budget.shared
    assert {kind for kind, _ in found} == {"ActorBudget"}
    assert sum(granted for _, granted in found) == 9  # 900 tokens beside the driver's 100
    with pytest.raises(BudgetExceeded, match="token budget of 1000"):
        await budget.reserve(1, 0.0)
    budget.settle(100, 0.0, 60, 0.0)  # the early call settles in the actor that took it over
    await budget.reserve(40, 0.0)
    with pytest.raises(BudgetExceeded):
        await budget.reserve(1, 0.0)
    account = await budget.snapshot()
    assert (account.spent_tokens, account.reserved_tokens) == (60, 940)
    assert account.refused == 2 * 8 - 9 + 2
    await budget.lift()  # the search is over: the test split is scored whatever is left
    await budget.reserve(500, 0.0)
    assert (await budget.snapshot()).reserved_tokens == 1_440
    budget.settle(500, 0.0, 500, 0.0)
    await budget.aclose()
    assert not budget.shared
    assert budget.account.reserved_tokens == 940  # the actor's last state, kept


@pytest.mark.services
async def test_a_generous_budget_changes_no_result_and_counts_every_call(
    ray_session: None, postgres_url: str, stub: StubServer, store: PostgresStore
) -> None:
    config = on_ray(postgres_url, stub.url, "budget.llm_tokens=1000000")
    experiment = experiments.get(config.experiment.name, config.experiment.options, config.seed)
    jobs = [Job(genome, "quick/rle", 0) for genome in search_spaces.get("code_writing").seeds()[:WORKERS]]
    local_ledger = Ledger()
    client = Metered(OpenAICompatible(stub.url, "stub"), local_ledger)
    try:
        scorer = WorkflowScorer(
            experiment, llm=client, forum=Forum(store), sandbox=Sandbox(), model="stub", timeout_s=60
        )
        local = [await scorer.score(job.genome, job.item, job.seed) for job in jobs]
    finally:
        await client.aclose()
    budget = RunBudget(Budget(max_tokens=1_000_000))
    remote = RemoteItems(
        config=config, postgres_url=postgres_url, llm_url=stub.url, model="stub", sandbox=SandboxLimits(),
        timeout_s=60, budget=budget,
    )  # fmt: skip
    ledger = Ledger()
    evaluator = Tallied(RayTuneEvaluator(remote.score, workers=WORKERS), ledger, lambda: None)
    try:
        results = await evaluator.evaluate(jobs)
    finally:
        await evaluator.aclose()
    account = await budget.snapshot()
    await budget.aclose()
    assert [(r.values, r.info["tokens"]) for r in results] == [(r.values, r.info["tokens"]) for r in local]
    assert ledger.total() == local_ledger.total()
    assert ledger.total().calls >= len(jobs)
    assert account.spent_tokens == ledger.total().tokens  # every worker call reserved and settled
    assert account.reserved_tokens == 0


@pytest.mark.services
async def test_a_tight_token_budget_stops_a_run_on_ray_within_its_bound(
    ray_session: None, postgres_url: str, stub: StubServer, tmp_path: Path
) -> None:
    budget = 3_000  # less than the two generations need
    config = on_ray(postgres_url, stub.url, f"budget.llm_tokens={budget}")
    out = tmp_path / "run"
    summary = await run_experiment(config, out, state_dir=str(tmp_path / "state"))
    assert summary["stopped"] == "llm_budget"
    # every answered call is in the run's ledger, also those of the batch the budget ran out in
    assert summary["llm_calls"] == stub.stats.answered + stub.stats.embeddings
    assert summary["llm_tokens"] >= stub.stats.prompt_tokens + stub.stats.completion_tokens
    search = summary["search_llm_tokens"]
    assert search <= budget  # no call spent past its reservation (see above)
    # the budget bounds the search: the test split is scored after it, outside it
    assert summary["best"]["test_score"] is not None
    assert summary["llm_tokens"] > search
    refused = [r for r in read_lineage(out / "lineage.jsonl") if r.values[0] < -1e299]
    assert refused  # candidates whose calls on the workers did not fit
