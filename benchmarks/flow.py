"""Scheduler overhead of evoforum.flow; prints one JSON object.

- ``construct_chain_1000``: making 1,000 tasks and chaining them with ``>>``.
- ``chain_1000`` / ``fanout_500``: no-op tasks (plain functions, run inline), microseconds per
  task for a run of an already built flow (best of several runs), and for ``build()``.
- ``async_chain_1000``: the same chain of ``async def`` no-ops.
- ``transcript_chain_1000``: the chain with its transcript written to an in-memory forum.
- ``io_1000x100ms``: 1,000 concurrent tasks that each await 100 ms, wall seconds.

Targets: <= 15 us per no-op task, <= 0.5 s for the IO fan-out.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from evoforum.flow import CompiledFlow, Flow, Runtime, task


def noop() -> None:
    return None


async def async_noop() -> None:
    return None


async def io_wait() -> None:
    await asyncio.sleep(0.1)


def chain(fn: Callable[[], Any], size: int) -> Flow:
    tasks = [task(fn).named(f"t{i}") for i in range(size)]
    flow = Flow.of(tasks[0])
    for nxt in tasks[1:]:
        flow = flow >> nxt
    return flow


def fan(fn: Callable[[], Any], width: int) -> Flow:
    middle: Sequence[Any] = [task(fn).named(f"m{i}") for i in range(width)]
    return task(noop).named("source") >> middle >> task(noop).named("sink")


async def per_task_us(compiled: CompiledFlow, runtime: Runtime, repeat: int = 7) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = await compiled.run(runtime=runtime)
        best = min(best, time.perf_counter() - start)
        assert result.ok
    return round(best / len(compiled.tasks) * 1e6, 2)


def build_us(flow: Flow) -> tuple[CompiledFlow, float]:
    start = time.perf_counter()
    compiled = flow.build()
    return compiled, round((time.perf_counter() - start) / len(flow.tasks) * 1e6, 2)


async def main() -> dict[str, Any]:
    quiet = Runtime(transcripts=False)
    figures: dict[str, Any] = {}
    start = time.perf_counter()
    built = chain(noop, 1000)
    figures["construct_chain_1000"] = {"us_per_task": round((time.perf_counter() - start) * 1e3, 2)}
    for name, flow, runtime in (
        ("chain_1000", built, quiet),
        ("fanout_500", fan(noop, 500), quiet),
        ("async_chain_1000", chain(async_noop, 1000), quiet),
        ("transcript_chain_1000", chain(noop, 1000), Runtime()),
    ):
        compiled, build = build_us(flow)
        figures[name] = {"run_us_per_task": await per_task_us(compiled, runtime), "build_us_per_task": build}
    compiled = fan(io_wait, 1000).build()
    start = time.perf_counter()
    result = await compiled.run(runtime=quiet)
    assert result.ok
    figures["io_1000x100ms"] = {"wall_s": round(time.perf_counter() - start, 3)}
    figures["targets"] = {"run_us_per_task": 15, "io_wall_s": 0.5}
    return figures


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
