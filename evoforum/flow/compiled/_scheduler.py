"""The scheduler: each task starts the moment its own parents are done.

Completion is event-driven: plain functions on the loop run inline (no asyncio task, no loop
turn), every other task runs as one asyncio task whose done-callback releases its children.
Nothing polls and nothing waits for a "phase": a fast branch runs on while a slow one is busy.

A task is only marked done after its function returned; a failure fails every task downstream
of it (``UPSTREAM_FAILED``, with the cause) while unrelated branches finish. A call that raises
before its coroutine exists (a positional-only parameter, say) is that task's failure too, and no
error escapes a done-callback: the run always finishes. What a task returns is checked against its
return annotation (``evoforum/flow/compiled/_outputs.py``); a value that does not fit fails the task
(on the full path, the attempt: retries apply).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import sys
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from evoforum.errors import TaskFailed, Timeout
from evoforum.flow._resolve import Injector, ScopeState, resolve_all
from evoforum.flow.executors import EXECUTE
from evoforum.flow.result import TaskOutcome, TaskState
from evoforum.forum.injection import INJECTOR

if TYPE_CHECKING:
    from evoforum.flow.compiled._outputs import Check
    from evoforum.flow.compiled._validate import Topology
    from evoforum.flow.runtime import Runtime
    from evoforum.flow.task import Task

_WAITING = None

INLINE, DIRECT, FULL = 0, 1, 2
"""How a task is started: a plain function called inline; a coroutine function made into one
asyncio task directly; or the full path (executor, injection, timeout, retries)."""

_EAGER = sys.version_info >= (3, 12)


def mode(t: Task[Any]) -> int:
    """The cheapest way to start ``t`` that keeps its semantics."""
    if t.executor != "asyncio" or t.timeout is not None or t.retry.attempts > 1 or t.signature.depends:
        return FULL
    return DIRECT if t.signature.is_async else INLINE


class Execution:
    """One run of a topology: call ``await execution.run()`` once."""

    def __init__(
        self,
        topology: Topology,
        modes: tuple[int, ...],
        checks: tuple[Check | None, ...],
        kwargs: list[dict[str, Any]],
        runtime: Runtime,
        scope: ScopeState,
    ) -> None:
        self.topology = topology
        self.modes = modes
        self.checks = checks
        self.kwargs = kwargs
        self.runtime = runtime
        self.scope = scope
        size = len(topology.tasks)
        self.remaining = list(topology.indegree)
        self.outputs: list[Any] = [None] * size
        self.states: list[TaskState | None] = [_WAITING] * size
        self.errors: list[TaskFailed | None] = [None] * size
        self.attempts = [0] * size
        self.scheduled: list[int] = []
        self.running: dict[int, asyncio.Task[Any]] = {}
        self.left = size
        self.ready = collections.deque(i for i, n in enumerate(self.remaining) if n == 0)
        self.finished: asyncio.Future[None] | None = None
        self.stopped = False

    async def run(self) -> list[TaskOutcome]:
        """Run every task; outcomes in the order tasks were scheduled (a topological order)."""
        self._drain()
        if self.left:
            self.finished = asyncio.get_running_loop().create_future()
            try:
                await self.finished
            except BaseException:  # cancelled, or a scheduler error set on ``finished``
                self.stopped = True
                for running in list(self.running.values()):
                    running.cancel()
                await asyncio.gather(*self.running.values(), return_exceptions=True)
                raise
        names = [t.name for t in self.topology.tasks]
        return [
            TaskOutcome(names[i], state, self.outputs[i], self.errors[i], self.attempts[i])
            for i in self.scheduled
            if (state := self.states[i]) is not None
        ]

    def _drain(self) -> None:
        ready, topology, outputs, kwargs, modes = (
            self.ready,
            self.topology,
            self.outputs,
            self.kwargs,
            self.modes,
        )
        while ready:
            i = ready.popleft()
            if self.states[i] is not _WAITING:
                continue
            self.scheduled.append(i)
            call = kwargs[i].copy()
            for param, parent in topology.bindings[i]:
                call[param] = outputs[parent]
            how = modes[i]
            if how == INLINE:
                self.attempts[i] = 1
                try:
                    output = topology.tasks[i].fn(**call)
                    if (check := self.checks[i]) is not None:
                        output = check(output)
                except Exception as error:
                    self._fail(i, error)
                else:
                    self._succeed(i, output)
                continue
            if how == DIRECT:
                self.attempts[i] = 1
                try:  # calling a coroutine function can raise before any coroutine exists
                    work = topology.tasks[i].fn(**call)
                except Exception as error:
                    self._fail(i, error)
                    continue
            else:
                work = self._attempts(i, call)
            running = self._start(work)
            if running.done():
                self._finish(i, running)
            else:
                self.running[i] = running
                running.add_done_callback(functools.partial(self._done, i))

    def _start(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        loop = asyncio.get_running_loop()
        if _EAGER:  # Python 3.12+: run until the first suspension now, as the task itself
            return asyncio.Task(work, loop=loop, eager_start=True)  # type: ignore[call-arg,unused-ignore]
        return loop.create_task(work)

    def _succeed(self, i: int, output: Any) -> None:
        self.outputs[i] = output
        self.states[i] = TaskState.SUCCEEDED
        remaining, ready = self.remaining, self.ready
        for child in self.topology.children[i]:
            remaining[child] -= 1
            if remaining[child] == 0:
                ready.append(child)
        self._settle(1)

    def _fail(self, i: int, error: BaseException, state: TaskState = TaskState.FAILED) -> None:
        name = self.topology.tasks[i].name
        self.states[i] = state
        self.errors[i] = failure = TaskFailed(
            f"task {name!r} failed: {type(error).__name__}: {error}", task=name, cause=error, upstream=None
        )
        failure.__cause__ = error
        stack, skipped = list(self.topology.children[i]), 0
        while stack:
            child = stack.pop()
            if self.states[child] is not _WAITING:
                continue
            child_name = self.topology.tasks[child].name
            self.states[child] = TaskState.UPSTREAM_FAILED
            self.scheduled.append(child)
            self.errors[child] = skipped_error = TaskFailed(
                f"task {child_name!r} did not run: upstream task {name!r} failed: {error}",
                task=child_name,
                cause=error,
                upstream=name,
            )
            skipped_error.__cause__ = error
            skipped += 1
            stack.extend(self.topology.children[child])
        self._settle(1 + skipped)

    def _settle(self, count: int) -> None:
        self.left -= count
        if not self.left and self.finished is not None and not self.finished.done():
            self.finished.set_result(None)

    def _done(self, i: int, running: asyncio.Task[Any]) -> None:
        """A task's done-callback: nothing may escape it, or ``finished`` would never be set."""
        del self.running[i]
        try:
            self._finish(i, running)
            if not self.stopped:
                self._drain()
        except BaseException as error:  # a scheduler bug: end the run with it rather than hang
            if self.finished is not None and not self.finished.done():
                self.finished.set_exception(error)
            if not isinstance(error, Exception):
                raise

    def _finish(self, i: int, running: asyncio.Task[Any]) -> None:
        if self.states[i] is not _WAITING:
            return
        if running.cancelled():
            self._fail(i, asyncio.CancelledError(), TaskState.CANCELLED)
        elif (error := running.exception()) is not None:
            self._fail(i, error)
        elif (check := self.checks[i]) is not None and self.modes[i] == DIRECT:  # FULL checked already
            try:
                output = check(running.result())
            except Exception as mismatch:
                self._fail(i, mismatch)
            else:
                self._succeed(i, output)
        else:
            self._succeed(i, running.result())

    async def _attempts(self, i: int, kwargs: dict[str, Any]) -> Any:
        t = self.topology.tasks[i]
        execute = EXECUTE[t.executor]
        depends = t.signature.depends
        policy = t.retry
        check = self.checks[i]
        for attempt in range(1, policy.attempts + 1):
            self.attempts[i] = attempt
            scope = self.scope.child("task")
            INJECTOR.set(Injector(self.runtime, scope))  # this task's own context: agents it calls
            try:
                call = {**kwargs, **await resolve_all(self.runtime, depends, scope)} if depends else kwargs
                if t.timeout is None:
                    output = await execute(t, call, self.runtime)
                else:
                    limit = asyncio.timeout(t.timeout)
                    try:
                        async with limit:
                            output = await execute(t, call, self.runtime)
                    except TimeoutError:
                        if not limit.expired():
                            raise
                        raise Timeout(
                            f"task {t.name!r} ran past its timeout of {t.timeout}s",
                            task=t.name,
                            seconds=t.timeout,
                        ) from None
                return output if check is None else check(output)  # a wrong output fails the attempt
            except policy.on:
                if attempt == policy.attempts:
                    raise
            finally:
                await scope.close()
            await asyncio.sleep(policy.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover
