"""What the standard runtime adds to a candidate's evaluation beyond its model calls; prints JSON.

A candidate's evaluation of an item (``WorkflowScorer.score``, as ``evoforum run`` calls it) is its
model calls, its sandboxed code (the genome's functions and the experiment's scoring, each a
confined subprocess) and the runtime: the flow's scheduler, the LLM agents' promises and their
forum branches, the transcript, the providers of bus, memory, forum and model. This script times
the first two around every call and leaves the runtime as the rest:

- ``model_s``: wall seconds inside model calls. The seeded stub model answers each request after
  ``--latency`` seconds (the local model takes seconds per call). The genomes measured make their
  calls one at a time, so the calls' times add up along the critical path.
- ``sandbox_s``: wall seconds inside sandbox calls.
- ``runtime_s``: the rest of the evaluation's wall time, and ``runtime_share`` its part of the
  whole (target: at most 2% of the evaluation).

The forum is the embedded PostgreSQL (as in a run) and, for comparison, the in-memory store; the
bus and memory are NATS, NATS KV and pgvector, opened as a run opens them. Genomes: the
code-writing space's single call and its write -> test -> fix loop, on the quickstart's problems.

    python benchmarks/runtime_overhead.py [--latency 1.0] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

sys.path[:] = [
    str(Path(__file__).resolve().parents[1]),
    *(p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent),
]

import experiments  # noqa: E402
import search_spaces  # noqa: E402
from evoforum.forum import Forum  # noqa: E402
from evoforum.llm import Completion, OpenAICompatible, TokenSink  # noqa: E402
from evoforum.llm.protocol import Wrapper  # noqa: E402
from evoforum.llm.stub import StubServer  # noqa: E402
from evoforum.llm.types import ChatRequest  # noqa: E402
from evoforum.run.resources import open_store  # noqa: E402
from evoforum.run.scoring import WorkflowScorer  # noqa: E402
from evoforum.run.workspace import Workspace  # noqa: E402
from evoforum.sandbox import Sandbox, SandboxResult  # noqa: E402
from evoforum.services import local_services  # noqa: E402

SPACE = search_spaces.get("code_writing")
GENOMES = {"single_call": SPACE.seeds()[2], "repair_loop": SPACE.seeds()[0]}


class Timed(Wrapper):
    """Sums the wall time of the model calls through it."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.seconds = 0.0
        self.calls = 0

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        started = time.perf_counter()
        try:
            return await self.inner.complete(request, on_token=on_token)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1


class TimedSandbox(Sandbox):
    """Sums the wall time of the sandbox calls (the genome's functions and the scoring)."""

    seconds = 0.0
    calls = 0

    async def call(self, source: str | None, entry: str | None = "main", **options: Any) -> SandboxResult:
        started = time.perf_counter()
        try:
            return await super().call(source, entry, **options)
        finally:
            TimedSandbox.seconds += time.perf_counter() - started
            TimedSandbox.calls += 1


async def measure(
    forum: Any, bus: Any, memory: Any, url: str, items: Sequence[str], rounds: int
) -> dict[str, Any]:
    experiment = experiments.get("quickstart")
    results: dict[str, Any] = {}
    for name, genome in GENOMES.items():
        client = Timed(OpenAICompatible(url, "stub"))
        scorer = WorkflowScorer(
            experiment,
            llm=client,
            forum=forum,
            bus=bus,
            memory=memory,
            sandbox=TimedSandbox(),
            model="stub",
            timeout_s=600,
        )
        await scorer.score(genome, items[0], 0)  # compiled, connections warm
        client.seconds, client.calls = 0.0, 0
        TimedSandbox.seconds, TimedSandbox.calls = 0.0, 0
        started = time.perf_counter()
        for seed in range(1, rounds + 1):  # other seeds: other requests, no answer reused
            for item in items:
                await scorer.score(genome, item, seed)
        total = time.perf_counter() - started
        await client.aclose()
        runtime = total - client.seconds - TimedSandbox.seconds
        evaluations = rounds * len(items)
        results[name] = {
            "evaluations": evaluations,
            "model_calls": client.calls,
            "sandbox_calls": TimedSandbox.calls,
            "total_s": round(total, 3),
            "model_s": round(client.seconds, 3),
            "sandbox_s": round(TimedSandbox.seconds, 3),
            "runtime_s": round(runtime, 3),
            "runtime_ms_per_evaluation": round(1000 * runtime / evaluations, 2),
            "runtime_share": round(runtime / total, 4),
            "sandbox_share": round(TimedSandbox.seconds / total, 4),
        }
    return results


async def main(args: argparse.Namespace) -> dict[str, Any]:
    splits = experiments.get("quickstart").splits()
    items = [*splits.train, *splits.valid]
    out: dict[str, Any] = {"benchmark": "runtime_overhead", "latency_s": args.latency, "target_share": 0.02}
    async with StubServer(seed=0, latency=args.latency) as stub:
        with tempfile.TemporaryDirectory(prefix="evoforum-bench-") as state:
            async with (
                local_services(state_dir=state, only=["nats", "postgres"]) as urls,
                AsyncExitStack() as stack,
            ):
                assert urls.postgres is not None
                assert urls.nats is not None
                store = await open_store(urls.postgres)
                stack.push_async_callback(store.close)
                forum = Forum(store)
                workspace = Workspace("bench_runtime", nats_url=urls.nats, postgres_url=urls.postgres)
                bus, memory = await workspace.open(stack, forum)
                out["postgres_forum"] = await measure(forum, bus, memory, stub.url, items, args.rounds)
        out["memory_forum"] = await measure(Forum(), None, None, stub.url, items, args.rounds)
    return out


def _args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the stub takes per request")
    parser.add_argument(
        "--rounds", type=int, default=2, help="passes over the problems, each with other seeds"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(_args()))))
