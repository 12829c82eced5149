"""How an agent gets the values its caller's runtime provides, without the forum knowing the runtime.

A parameter whose default (or ``Annotated`` metadata) is an ``Injected`` marker is filled in at
call time. ``evoforum.flow.Depends`` is the one marker there is; the runtime that resolves it
lives above the forum, so it hands the forum an ``Injector`` through a context variable instead:
``evoforum.flow.Runtime`` sets it inside ``async with Runtime()``, ``Runtime.call`` and every flow
run and task attempt, and an agent's promise runs in a copy of its caller's context, so an agent
finds the runtime however it is called: directly, in a task, or nested in another agent.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any, get_args, get_origin, get_type_hints

Injector = Callable[[Callable[..., Any], Mapping[str, Any]], AbstractAsyncContextManager[dict[str, Any]]]
"""``injector(fn, given)``: an async context manager giving the values of ``fn``'s injected
parameters that ``given`` does not hold; they live until it exits."""

INJECTOR: contextvars.ContextVar[Injector | None] = contextvars.ContextVar("evoforum_injector", default=None)
"""The injector of the runtime the current code runs in (None outside any runtime)."""


class Injected:
    """Base of parameter markers whose value the caller's runtime injects."""

    __slots__ = ()


def injected_parameters(fn: Callable[..., Any]) -> tuple[str, ...]:
    """The names of ``fn``'s parameters that an ``Injected`` marker declares."""
    try:
        return _injected(fn)
    except TypeError:  # an unhashable callable
        return _injected.__wrapped__(fn)


@functools.lru_cache(maxsize=4096)
def _injected(fn: Callable[..., Any]) -> tuple[str, ...]:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return ()
    hints, _ = resolve_hints(fn)
    return tuple(p.name for p in parameters if _marked(hints.get(p.name), p.default))


def _marked(annotation: Any, default: Any) -> bool:
    if isinstance(default, Injected):
        return True
    return get_origin(annotation) is Annotated and any(
        isinstance(extra, Injected) for extra in get_args(annotation)[1:]
    )


def resolve_hints(fn: Callable[..., Any]) -> tuple[dict[str, Any], set[str]]:
    """Resolved annotations of ``fn``, and the names whose annotation could not be resolved
    (evaluated one by one, so one local name does not hide the others)."""
    try:
        return get_type_hints(fn, include_extras=True), set()
    except Exception:
        pass
    hints: dict[str, Any] = {}
    unresolved: set[str] = set()
    namespace = getattr(fn, "__globals__", {})
    for name, raw in getattr(fn, "__annotations__", {}).items():
        try:
            hints[name] = eval(raw, namespace) if isinstance(raw, str) else raw
        except Exception:
            hints[name] = Any
            unresolved.add(name)
    return hints, unresolved
