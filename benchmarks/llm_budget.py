"""What a shared LLM budget costs per call; prints one JSON object.

Each figure is ``Metered`` over an in-process client that answers at once, per call, minus the same
without any budget (so only the bookkeeping is measured; the in-process figures are the best of 5):

- ``in_process``: the budget kept by ``Metered`` itself (what a run with the local evaluator does).
- ``driver``: the run's ``RunBudget`` once shared, i.e. a ``BudgetActor`` in Ray: one round trip to
  reserve, the settlement sent without waiting; ``driver_concurrent`` with ``--in-flight`` calls
  at once (per call, wall time divided by calls).
- ``worker``: the same from a Ray task (what an evaluation worker's calls pay).

Target: ``driver`` and ``worker`` <= 5 ms per call, small beside a model call (~1 s and up).

    python benchmarks/llm_budget.py [--calls 2000] [--in-flight 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import orjson

from evoforum.llm import (
    Budget,
    BudgetPool,
    ChatRequest,
    Completion,
    Ledger,
    Metered,
    TokenSink,
    Usage,
    chat_request,
)
from evoforum.run.llm import RunBudget


class Instant:
    """A client that answers at once, with a fixed usage."""

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        return Completion(text="ok", model=request.model, usage=Usage(prompt_tokens=8, completion_tokens=2))

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> list[list[float]]:
        return [[0.0] for _ in texts]

    async def aclose(self) -> None:
        pass


def _client(*, budget: Budget | None = None, pool: BudgetPool | None = None) -> Metered:
    return Metered(Instant(), Ledger(), budget=budget, pool=pool)


async def per_call_us(client: Metered, calls: int, in_flight: int = 1) -> float:
    """Microseconds per call, ``in_flight`` calls at a time."""
    requests = [chat_request("m", f"prompt {i}", max_tokens=16) for i in range(calls)]
    for request in requests:
        _ = request.hash  # hashed once, outside the timing
    gate = asyncio.Semaphore(in_flight)

    async def one(request: ChatRequest) -> None:
        async with gate:
            await client.complete(request)

    start = time.perf_counter()
    if in_flight == 1:
        for request in requests:
            await client.complete(request)
    else:
        await asyncio.gather(*(one(r) for r in requests))
    return (time.perf_counter() - start) / calls * 1e6


def _worker_calls(pool: Any, calls: int) -> float:
    """Runs on a Ray worker: microseconds per call through a budget shared with the driver."""

    async def run() -> float:
        spent = await per_call_us(_client(pool=pool), calls)
        await pool.settled()
        return spent

    return asyncio.run(run())


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=8)
    args = parser.parse_args(argv)
    calls, big = args.calls, Budget(max_tokens=10**12)
    bare = min([await per_call_us(_client(), calls) for _ in range(5)])  # best of 5: the machine is shared
    in_process = min([await per_call_us(_client(budget=big), calls) for _ in range(5)])

    import ray
    from ray import cloudpickle

    for key, value in {"RAY_AIR_NEW_OUTPUT": "0", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}.items():
        os.environ.setdefault(key, value)
    temp = tempfile.mkdtemp(prefix="efb-")
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp, log_to_driver=False)
    try:
        cloudpickle.register_pickle_by_value(sys.modules[__name__])  # type: ignore[no-untyped-call]
        pool = RunBudget(big)
        pool.share()
        await per_call_us(_client(pool=pool), 200)  # warm up the actor
        driver = await per_call_us(_client(pool=pool), calls)
        concurrent = await per_call_us(_client(pool=pool), calls, args.in_flight)
        worker = await ray.remote(num_cpus=0)(_worker_calls).remote(pool, calls)
        account = await pool.snapshot()
        await pool.aclose()
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
    settled = account.calls == 200 + 2 * calls + calls and account.reserved_tokens == 0
    extra = {name: us - bare for name, us in (("driver", driver), ("worker", worker))}
    return {
        "calls": calls,
        "bare_us": round(bare, 1),
        "in_process_us": round(in_process - bare, 1),
        "driver_us": round(extra["driver"], 1),
        "driver_concurrent_us": round(concurrent - bare, 1),
        "in_flight": args.in_flight,
        "worker_us": round(extra["worker"], 1),
        "all_settled": settled,
        "target_ms": 5.0,
        "ok": settled and max(extra.values()) <= 5000,
    }


if __name__ == "__main__":
    print(orjson.dumps(asyncio.run(main())).decode())
