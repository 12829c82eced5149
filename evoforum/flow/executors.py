"""Where a task's function runs: the event loop, a thread, a worker process, or Ray.

Each executor is one function ``(task, kwargs, runtime) -> awaitable output``; ``EXECUTE`` maps
executor names to them. Process and Ray tasks get arguments and return values by pickling;
a process task's function must be importable by module and qualified name. Cancelling a process
or Ray call (a task timeout, a cancelled run) stops it: the worker process running it is killed
(``evoforum.flow.workers``), the Ray call is ``ray.cancel``led with ``force=True``. A thread
cannot be stopped: a timed-out thread task only stops being waited for.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from evoforum.errors import UsageError

if TYPE_CHECKING:
    from evoforum.flow.runtime import Runtime
    from evoforum.flow.task import Task

log = logging.getLogger("evoforum.flow")

Executor = Callable[["Task[Any]", dict[str, Any], "Runtime"], Awaitable[Any]]


async def on_loop(t: Task[Any], kwargs: dict[str, Any], runtime: Runtime) -> Any:
    """Await a coroutine function on the loop; run a plain function in a thread when it has a
    timeout (so the timeout can take effect), inline otherwise."""
    if t.signature.is_async:
        return await t.fn(**kwargs)
    if t.timeout is not None:
        return await asyncio.to_thread(t.fn, **kwargs)
    return t.fn(**kwargs)


async def in_thread(t: Task[Any], kwargs: dict[str, Any], runtime: Runtime) -> Any:
    """Run the function in the default thread pool (a coroutine function gets its own loop)."""
    return await asyncio.to_thread(_call, t.fn, kwargs)


async def in_process(t: Task[Any], kwargs: dict[str, Any], runtime: Runtime) -> Any:
    """Run the function in one of the runtime's worker processes, found there by module and name;
    cancelling the call (a timeout) kills that worker."""
    return await runtime.process_pool().call(t.fn.__module__, t.fn.__qualname__, kwargs)


async def on_ray(t: Task[Any], kwargs: dict[str, Any], runtime: Runtime) -> Any:
    """Run the function as a Ray remote call (Ray must be initialised by the caller)."""
    try:
        import ray
    except ImportError:  # pragma: no cover - ray is a dependency
        raise UsageError("executor='ray' needs ray: pip install 'ray[default]'") from None
    if not ray.is_initialized():
        raise UsageError(f"task {t.name!r} runs on Ray, but ray.init() has not been called")
    ref = _remote_call(ray).remote(t.fn, kwargs)
    try:
        return await ref
    except ray.exceptions.RayTaskError as error:
        cause = getattr(error, "cause", None)
        if isinstance(cause, BaseException):
            raise cause from None
        raise
    except asyncio.CancelledError:  # a timeout or a cancelled run: stop the remote call too
        cancel_remote(ray, ref)
        raise


def cancel_remote(ray: Any, ref: Any) -> None:
    """Cancel a Ray call, killing the worker that runs it (a call stuck in C code or a sleep does
    not see a gentler interrupt); a call that already finished is left alone."""
    try:
        ray.cancel(ref, force=True)
    except Exception as error:  # best effort: the caller is being cancelled already
        log.debug("could not cancel a Ray call: %r", error)


@functools.cache
def _remote_call(ray: Any) -> Any:
    return ray.remote(_call)


def _call(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    result = fn(**kwargs)
    if asyncio.iscoroutine(result):
        return asyncio.run(result)
    return result


def call_by_reference(module: str, qualname: str, kwargs: dict[str, Any]) -> Any:
    """Import ``module``, find ``qualname`` in it (a task or a function) and call it."""
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    fn = getattr(found, "fn", found)
    return _call(fn, kwargs)


EXECUTE: dict[str, Executor] = {
    "asyncio": on_loop,
    "thread": in_thread,
    "process": in_process,
    "ray": on_ray,
}
