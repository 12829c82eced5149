"""Random DAGs: every task starts after its own parents finished; failures reach exactly the
tasks downstream of them."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from evoforum.flow import Runtime, Task, TaskState, dag, task


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]], set[int], set[int]]:
    size = draw(st.integers(min_value=1, max_value=12))
    pairs = [(a, b) for a in range(size) for b in range(a + 1, size)]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=20)) if pairs else []
    failing = draw(st.sets(st.integers(0, size - 1), max_size=3))
    asynchronous = draw(st.sets(st.integers(0, size - 1)))
    return size, edges, failing, asynchronous


def make(i: int, log: list[tuple[str, int]], fails: bool, is_async: bool) -> Task[Any]:
    if is_async:

        async def run_async() -> int:
            log.append(("start", i))
            await asyncio.sleep(0)
            log.append(("end", i))
            if fails:
                raise RuntimeError(f"n{i}")
            return i

        return task(run_async).named(f"n{i}")

    def run_sync() -> int:
        log.append(("start", i))
        log.append(("end", i))
        if fails:
            raise RuntimeError(f"n{i}")
        return i

    return task(run_sync).named(f"n{i}")


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_random_dags(graph: tuple[int, list[tuple[int, int]], set[int], set[int]]) -> None:
    size, edges, failing, asynchronous = graph
    log: list[tuple[str, int]] = []
    tasks = [make(i, log, i in failing, i in asynchronous) for i in range(size)]
    flow = dag(*tasks, edges=[(tasks[a], tasks[b]) for a, b in edges])
    result = asyncio.run(flow.build().run(runtime=Runtime(transcripts=False)))

    parents = {i: {a for a, b in edges if b == i} for i in range(size)}
    position = {event: k for k, event in enumerate(log)}
    for i in range(size):
        if ("start", i) in position:
            assert all(position[("end", p)] < position[("start", i)] for p in parents[i])

    def ancestors(i: int) -> set[int]:
        found: set[int] = set()
        stack = list(parents[i])
        while stack:
            p = stack.pop()
            if p not in found:
                found.add(p)
                stack.extend(parents[p])
        return found

    for i in range(size):
        state = result.tasks[f"n{i}"].state
        if ancestors(i) & failing:
            assert state is TaskState.UPSTREAM_FAILED
            assert ("start", i) not in position
        elif i in failing:
            assert state is TaskState.FAILED
        else:
            assert state is TaskState.SUCCEEDED
            assert result.tasks[f"n{i}"].output == i
