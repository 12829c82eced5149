"""``Runtime``: the resources a workflow runs with, their scopes, and provider overrides.

A runtime is the **experiment** scope: values of experiment-scoped providers live until
``aclose()`` (or the end of ``async with Runtime(...) as runtime``). Each flow or state-machine
run opens a **run** scope inside it, each task attempt a **task** scope inside that.

Agents resolve their ``Depends`` parameters from the runtime they are called in: inside
``async with Runtime(...)``, ``runtime.call``, and every flow or machine run (so also from a task,
or nested in another agent); see ``evoforum/forum/injection.py``.

Tests replace a provider without patching anything::

    runtime = Runtime()
    runtime.override(providers.llm, lambda: StubLLM())   # or: with runtime.override(...):
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

from evoforum.flow._resolve import Injector, ScopeState, injecting, resolve_all, wanted
from evoforum.flow.workers import WorkerPool
from evoforum.forum.injection import INJECTOR

if TYPE_CHECKING:
    from types import TracebackType

    from evoforum.llm.protocol import LLMClient


@runtime_checkable
class Buildable(Protocol):
    """A spec that checks itself into a runnable: a task, a flow or a state machine."""

    def build(self) -> Any: ...


class Override:
    """A provider override in force; leaving ``with`` (or ``.undo()``) restores the previous one."""

    def __init__(self, runtime: Runtime, provider: Callable[..., Any], previous: Any) -> None:
        self._runtime, self._provider, self._previous = runtime, provider, previous

    def undo(self) -> None:
        if self._previous is None:
            self._runtime.overrides.pop(self._provider, None)
        else:
            self._runtime.overrides[self._provider] = self._previous

    def __enter__(self) -> Override:
        return self

    def __exit__(self, *exc: object) -> None:
        self.undo()


class Runtime:
    """Holds the resources (forum, bus, memory, llm, config, pools) and the experiment scope.

    ``forum`` defaults to an in-memory ``Forum`` (created on first use); run transcripts are
    written there unless ``transcripts=False``. ``processes`` sizes the pool of worker processes
    ``executor="process"`` tasks run in (started on first use; a cancelled or timed-out call kills
    its worker; ``aclose()`` stops them from a thread, so the event loop never waits for them).
    """

    def __init__(
        self,
        *,
        forum: Any = None,
        bus: Any = None,
        memory: Any = None,
        llm: LLMClient | None = None,
        config: Mapping[str, Any] | None = None,
        processes: int | None = None,
        transcripts: bool = True,
    ) -> None:
        self._forum = forum
        self.bus = bus
        self.memory = memory
        self.llm = llm
        self.config: Mapping[str, Any] = dict(config or {})
        self.transcripts = transcripts
        self.overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        self.experiment = ScopeState("experiment", None)
        self._processes = processes
        self._pool: WorkerPool | None = None
        self._entered: list[contextvars.Token[Any]] = []

    @property
    def forum(self) -> Any:
        """The forum runs write their transcripts to (in memory unless one was given)."""
        if self._forum is None:
            from evoforum.forum import Forum

            self._forum = Forum()
        return self._forum

    def override(self, provider: Callable[..., Any], replacement: Callable[..., Any]) -> Override:
        """Use ``replacement`` wherever ``provider`` is asked for, until undone."""
        previous = self.overrides.get(provider)
        self.overrides[provider] = replacement
        return Override(self, provider, previous)

    def process_pool(self) -> WorkerPool:
        """The runtime's worker processes (forkserver workers), created on first use."""
        if self._pool is None:
            self._pool = WorkerPool(self._processes)
        return self._pool

    async def run(self, target: Any, inputs: Mapping[str, Any] | None = None) -> Any:
        """Run a task, a flow (built or not) or a state machine (built or not) with this runtime."""
        runnable = target.build() if isinstance(target, Buildable) else target
        return await runnable.run(inputs or {}, runtime=self)

    async def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Call ``fn`` with its ``Depends`` parameters resolved, and await what it returns.

        ``fn`` is any function, or an ``@agent`` (its function's ``Depends`` parameters are
        passed as keyword arguments of the call; the answer ``Message`` is returned). The call
        gets its own run scope, closed when it returns.
        """
        import inspect

        from evoforum.forum.agent import Agent

        declared = fn.target if isinstance(fn, Agent) else fn
        scope = self.experiment.child("run")
        try:
            values = await resolve_all(self, wanted(declared, kwargs), scope)
            with injecting(self, scope):  # agents it calls resolve theirs here too
                result = fn(*args, **kwargs, **values)
                if inspect.isawaitable(result):
                    result = await result
            return result
        finally:
            await scope.close()

    async def aclose(self) -> None:
        """Close experiment-scoped resources and the worker processes (off the event loop: a
        worker still running a call is killed, its call fails)."""
        try:
            await self.experiment.close()
        finally:
            pool, self._pool = self._pool, None
            if pool is not None:
                await asyncio.to_thread(pool.close)

    async def __aenter__(self) -> Self:
        """Enter the runtime: agents called in the block resolve their ``Depends`` from it."""
        self._entered.append(INJECTOR.set(Injector(self, self.experiment)))
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._entered:
            token = self._entered.pop()
            with contextlib.suppress(ValueError):  # exited in another context than it was entered in
                INJECTOR.reset(token)
        await self.aclose()
