"""Tasks and the flows ``>>`` makes of them: what a user builds before ``build()`` checks it.

**Tasks.** ``@task`` makes a function a typed unit of work. A task wraps a function (plain or ``async``). Its **inputs** are its parameters: each is wired
from a parent's output or given as a flow input (see *Wiring* below). Its **output** is its return value, typed by the return annotation, and published under its
**output name** (the task name unless ``output=`` says otherwise). Parameters that declare
``Depends(...)`` (as default or in ``Annotated``) are injected by the runtime, never wired.

A task is an immutable value: ``a.named("b")`` and ``a.options(timeout=1)`` return new tasks,
and ``a >> b`` builds a new ``Flow`` without touching either task.

**Flows** are immutable task graphs built with ``>>`` (Airflow-style) or ``dag(...)``.
``a >> b`` returns a new ``Flow`` holding every task and edge of both sides; the tasks are not
changed and there is no "current DAG". Chaining continues from the right-hand side:
``a >> [b, c] >> d`` adds ``a→b, a→c, b→d, c→d`` (``heads`` are where a flow is entered from the
left, ``tails`` where the next ``>>`` continues). ``a << b`` is ``b >> a``. ``dag(f1, f2, t)``
merges flows and tasks into one.

**Wiring** (how a task's parameters get their values), checked once by ``build()``:

1. *By name*: a parameter takes the output of the parent whose output name (the task name unless
   ``@task(output=...)``) equals the parameter name.
2. *By type*: each parameter still unbound takes the output of the one remaining parent whose
   output type fits the parameter type (a parent feeds at most one parameter this way).
3. Otherwise the parameter is a **flow input**: it is given at run time as
   ``inputs={"param": value}`` (every task with an unbound parameter of that name gets it) or
   ``inputs={"task.param": value}`` (that task only). Parameters with defaults may be omitted.
   Unbound parameters of tasks that have parents must be declared with
   ``build(inputs=["param", ...])``, otherwise they are reported as missing: it is almost
   always a wiring mistake.

A parent whose output no parameter takes is still an ordering dependency.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, Literal, TypeVar, Union, overload

from pydantic import BaseModel, ConfigDict, Field

from evoforum.flow._signature import Signature, read_signature
from evoforum.flow.compiled import CompiledFlow

R = TypeVar("R")

ExecutorName = Literal["asyncio", "thread", "process", "ray"]
"""Where a task runs: on the event loop (default: coroutine functions are awaited there; plain
functions run inline, so keep them short, or in a thread when they have a timeout), in a
thread, in one of the runtime's worker processes (CPU-bound; the function must be importable by
module and name), or as a Ray remote call (``ray`` is imported on first use; call ``ray.init``
first). A timeout stops a process or Ray task (its worker is killed, the Ray call cancelled); a
thread cannot be stopped, only no longer waited for."""

EXECUTORS: tuple[ExecutorName, ...] = ("asyncio", "thread", "process", "ray")


class Retry(BaseModel):
    """How often a failing task is tried, and how long to wait in between.

    Attempt ``n`` (from 1) that fails with one of ``on`` waits
    ``min(backoff * multiplier ** (n - 1), max_delay)`` seconds before attempt ``n + 1``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    attempts: int = Field(default=1, ge=1)
    backoff: float = Field(default=0.0, ge=0)
    multiplier: float = Field(default=2.0, ge=1)
    max_delay: float = Field(default=60.0, ge=0)
    on: tuple[type[BaseException], ...] = (Exception,)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (counted from 1)."""
        return float(min(self.backoff * self.multiplier ** (attempt - 1), self.max_delay))


NO_RETRY = Retry()


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Task(Generic[R]):
    """A function with typed inputs and output, a name, an executor, a timeout and retries."""

    fn: Callable[..., Any]
    name: str
    output_name: str
    executor: ExecutorName = "asyncio"
    timeout: float | None = None
    retry: Retry = NO_RETRY

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ValueError(f"task {self.name!r}: executor must be one of {EXECUTORS}")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError(f"task {self.name!r}: timeout must be positive")
        object.__setattr__(self, "_signature", None)

    @property
    def signature(self) -> Signature:
        """The task's ports, read from the function on first use (``NameError`` when an
        annotation names something unknown)."""
        found: Signature | None = self.__dict__["_signature"]
        if found is None:
            found = read_signature(self.fn)
            object.__setattr__(self, "_signature", found)
        return found

    def signature_problem(self) -> str:
        """Why the signature cannot be read, or an empty string."""
        try:
            self.signature  # noqa: B018 - reads and caches
        except (NameError, TypeError) as error:
            return f"cannot read the annotations: {error}"
        return ""

    def named(self, name: str, *, output: str | None = None) -> Task[R]:
        """The same task under another name (to use one function twice in a flow)."""
        return self.options(name=name, output=output or name)

    def options(
        self,
        *,
        name: str | None = None,
        output: str | None = None,
        executor: ExecutorName | None = None,
        timeout: float | None = None,
        retry: Retry | None = None,
    ) -> Task[R]:
        """A copy with some options replaced."""
        copy: Task[R] = Task(
            fn=self.fn,
            name=name or self.name,
            output_name=output or self.output_name,
            executor=executor or self.executor,
            timeout=timeout if timeout is not None else self.timeout,
            retry=retry or self.retry,
        )
        object.__setattr__(copy, "_signature", self.__dict__["_signature"])
        return copy

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly, outside any flow."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<task {self.name}>"

    def build(self) -> CompiledFlow:
        """A checked flow of this one task (see ``Flow.build``)."""
        return Flow.of(self).build()

    def __rshift__(self, other: Node) -> Flow:
        return Flow.of(self) >> other

    def __rrshift__(self, other: Node) -> Flow:
        return Flow.of(other) >> self

    def __lshift__(self, other: Node) -> Flow:
        return Flow.of(other) >> self

    def __rlshift__(self, other: Node) -> Flow:
        return Flow.of(self) >> other


@overload
def task(fn: Callable[..., R], /) -> Task[R]: ...


@overload
def task(
    *,
    name: str | None = None,
    output: str | None = None,
    executor: ExecutorName = "asyncio",
    timeout: float | None = None,
    retry: Retry | int | None = None,
) -> Callable[[Callable[..., R]], Task[R]]: ...


def task(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    output: str | None = None,
    executor: ExecutorName = "asyncio",
    timeout: float | None = None,
    retry: Retry | int | None = None,
) -> Any:
    """Make a function a task: ``@task`` or ``@task(name=, output=, executor=, timeout=, retry=)``.

    ``retry`` is a ``Retry`` policy or a number of attempts.
    """
    policy = Retry(attempts=retry) if isinstance(retry, int) else (retry or NO_RETRY)

    def wrap(function: Callable[..., Any]) -> Task[Any]:
        task_name = name or function.__name__
        return Task(function, task_name, output or task_name, executor, timeout, policy)

    return wrap(fn) if fn is not None else wrap


Node = Union["Task[Any]", "Flow", Sequence[Union["Task[Any]", "Flow"]]]
"""What ``>>`` accepts on either side: a task, a flow, or a list of them (fan-out / fan-in)."""

Edge = tuple["Task[Any]", "Task[Any]"]


def _unique(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(items))


class Flow:
    """A graph of tasks: ``tasks`` and ``edges``, plus ``heads``/``tails`` for chaining.

    A flow made by ``>>`` keeps references to its two sides and the new edges between them;
    ``tasks`` and ``edges`` are gathered (once, then cached) when asked for, so a chain of ``n``
    ``>>`` costs O(n), not O(n²).
    """

    __slots__ = ("_edges", "_parts", "_tasks", "heads", "tails")

    def __init__(
        self,
        tasks: Iterable[Task[Any]] = (),
        edges: Iterable[Edge] = (),
        heads: Iterable[Task[Any]] = (),
        tails: Iterable[Task[Any]] = (),
        *,
        parts: tuple[Flow, ...] = (),
    ) -> None:
        self._parts = parts
        self._tasks: tuple[Task[Any], ...] | None = None if parts else _unique(tasks)
        self._edges: tuple[Edge, ...] = tuple(edges)
        self.heads: tuple[Task[Any], ...] = tuple(heads)
        self.tails: tuple[Task[Any], ...] = tuple(tails)
        if not parts and not (self.heads or self.tails):  # Flow(tasks, edges): roots and leaves
            self.heads, self.tails = self.roots, self.leaves

    def _gather(self) -> None:
        tasks: dict[Task[Any], None] = {}
        edges: dict[Edge, None] = {}
        stack: list[Flow] = [self]
        while stack:  # left to right, depth first, without recursion
            flow = stack.pop()
            if flow._parts:
                stack.extend(reversed((*flow._parts, Flow(edges=flow._edges))))
            else:
                tasks.update(dict.fromkeys(flow._tasks or ()))
                edges.update(dict.fromkeys(flow._edges))
        self._tasks, self._edges, self._parts = tuple(tasks), tuple(edges), ()

    @property
    def tasks(self) -> tuple[Task[Any], ...]:
        """Every task, in the order first mentioned."""
        if self._tasks is None:
            self._gather()
        assert self._tasks is not None
        return self._tasks

    @property
    def edges(self) -> tuple[Edge, ...]:
        """Every ``(parent, child)`` edge, without repeats."""
        if self._tasks is None:
            self._gather()
        return self._edges

    @classmethod
    def of(cls, node: Node) -> Flow:
        """A flow made of one task, a flow (itself), or a list of tasks and flows side by side."""
        if isinstance(node, Flow):
            return node
        if isinstance(node, Task):
            return cls((node,), (), (node,), (node,))
        if isinstance(node, Sequence) and not isinstance(node, str):
            parts = tuple(cls.of(item) for item in node)
            return cls(
                heads=_unique(t for part in parts for t in part.heads),
                tails=_unique(t for part in parts for t in part.tails),
                parts=parts,
            )
        raise TypeError(f"cannot put {type(node).__name__} in a flow; use tasks, flows or lists of them")

    def __rshift__(self, other: Node) -> Flow:
        right = Flow.of(other)
        links = tuple((tail, head) for tail in self.tails for head in right.heads)
        return Flow(edges=links, heads=self.heads, tails=right.tails, parts=(self, right))

    def __rrshift__(self, other: Node) -> Flow:
        return Flow.of(other) >> self

    def __lshift__(self, other: Node) -> Flow:
        return Flow.of(other) >> self

    def __rlshift__(self, other: Node) -> Flow:
        return self >> other

    def __repr__(self) -> str:
        return f"<flow {len(self.tasks)} tasks, {len(self.edges)} edges>"

    @property
    def roots(self) -> tuple[Task[Any], ...]:
        """Tasks without parents."""
        children = {child for _, child in self.edges}
        return tuple(t for t in self.tasks if t not in children)

    @property
    def leaves(self) -> tuple[Task[Any], ...]:
        """Tasks without children."""
        parents = {parent for parent, _ in self.edges}
        return tuple(t for t in self.tasks if t not in parents)

    def build(self, *, inputs: Iterable[str] = ()) -> CompiledFlow:
        """Check the whole flow once and return an immutable runnable, or raise ``FlowInvalid``.

        ``inputs`` declares extra flow inputs: unbound parameters of non-root tasks.
        """
        return CompiledFlow(self, frozenset(inputs))


def dag(*parts: Node, edges: Iterable[tuple[Task[Any], Task[Any]]] = ()) -> Flow:
    """One flow from tasks, flows, lists of them, and explicit ``(parent, child)`` edges."""
    merged = Flow.of([Flow.of(part) for part in parts])
    extra = tuple(edges)
    tasks = _unique((*merged.tasks, *(t for edge in extra for t in edge)))
    return Flow(tasks, _unique((*merged.edges, *extra)))
