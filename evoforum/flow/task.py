"""``@task``: a typed unit of work in a flow.

A task wraps a function (plain or ``async``). Its **inputs** are its parameters: each is wired
from a parent's output or given as a flow input (see ``evoforum.flow.dag`` for the rules). Its
**output** is its return value, typed by the return annotation, and published under its
**output name** (the task name unless ``output=`` says otherwise). Parameters that declare
``Depends(...)`` (as default or in ``Annotated``) are injected by the runtime, never wired.

A task is an immutable value: ``a.named("b")`` and ``a.options(timeout=1)`` return new tasks,
and ``a >> b`` builds a new ``Flow`` without touching either task.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Literal, NamedTuple, TypeVar, overload

from pydantic import BaseModel, ConfigDict, Field

from evoforum.flow.depends import Depends, find_depends, resolve_hints

if TYPE_CHECKING:
    from evoforum.flow.dag import Flow, Node

R = TypeVar("R")

ExecutorName = Literal["asyncio", "thread", "process", "ray"]
"""Where a task runs: on the event loop (default: coroutine functions are awaited there; plain
functions run inline, so keep them short, or in a thread when they have a timeout), in a
thread, in the runtime's process pool (CPU-bound; the function must be importable by module and
name), or as a Ray remote call (``ray`` is imported on first use; call ``ray.init`` first)."""

EXECUTORS: tuple[ExecutorName, ...] = ("asyncio", "thread", "process", "ray")

REQUIRED: Any = inspect.Parameter.empty
"""The default of a port that has none."""


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


class Port(NamedTuple):
    """One input parameter of a task."""

    name: str
    annotation: Any
    default: Any = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


class Signature(NamedTuple):
    """What a task takes and gives, read once from its function."""

    inputs: tuple[Port, ...]
    depends: tuple[tuple[str, Depends], ...]
    output: Any
    is_async: bool


@functools.lru_cache(maxsize=4096)
def read_signature(fn: Callable[..., Any]) -> Signature:
    """Inputs, injected parameters and output type of ``fn``; ``NameError`` for bad annotations."""
    hints, unresolved = resolve_hints(fn)
    inputs: list[Port] = []
    depends: list[tuple[str, Depends]] = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(param.name, Any)
        found = find_depends(annotation, param.default)
        if param.name in unresolved and found is None:
            raise NameError(f"the annotation of {param.name!r} names something unknown here")
        if found is not None:
            depends.append((param.name, found))
        else:
            inputs.append(Port(param.name, annotation, param.default))
    if "return" in unresolved:
        raise NameError("the return annotation names something unknown here")
    output = hints.get("return", Any)
    is_async = inspect.iscoroutinefunction(fn)
    return Signature(tuple(inputs), tuple(depends), output, is_async)


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

    def __rshift__(self, other: Node) -> Flow:
        from evoforum.flow.dag import Flow

        return Flow.of(self) >> other

    def __rrshift__(self, other: Node) -> Flow:
        from evoforum.flow.dag import Flow

        return Flow.of(other) >> self

    def __lshift__(self, other: Node) -> Flow:
        from evoforum.flow.dag import Flow

        return Flow.of(other) >> self

    def __rlshift__(self, other: Node) -> Flow:
        from evoforum.flow.dag import Flow

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
