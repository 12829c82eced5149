"""Resolving ``Depends`` parameters in nested scopes, with a per-scope cache."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import TYPE_CHECKING, Any

from evoforum.errors import UsageError
from evoforum.flow.depends import _ENTER_ATTR, SCOPES, Depends, Scope, find_depends
from evoforum.forum.injection import INJECTOR, resolve_hints
from evoforum.hashing import canonical_json

if TYPE_CHECKING:
    from evoforum.flow.runtime import Runtime


class ScopeState:
    """One open scope: its cache of provided values and the resources to close with it."""

    def __init__(self, kind: Scope, parent: ScopeState | None) -> None:
        self.kind = kind
        self.parent = parent
        self.cache: dict[Any, asyncio.Future[Any]] = {}
        self.stack = AsyncExitStack()

    def find(self, kind: Scope) -> ScopeState | None:
        scope: ScopeState | None = self
        while scope is not None and scope.kind != kind:
            scope = scope.parent
        return scope

    def child(self, kind: Scope) -> ScopeState:
        return ScopeState(kind, self)

    async def close(self) -> None:
        """Close the resources opened in this scope, newest first."""
        self.cache.clear()
        await self.stack.aclose()


def arguments_key(args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    """A cache key for provider arguments: by value when hashable or JSON, else by identity."""
    items = (tuple(args), tuple(sorted(kwargs.items())))
    try:
        hash(items)
        return items
    except TypeError:
        pass
    try:
        return canonical_json([list(args), kwargs])
    except Exception:
        return ("id", tuple(id(a) for a in args), tuple((k, id(v)) for k, v in sorted(kwargs.items())))


@functools.lru_cache(maxsize=4096)
def parameters(fn: Callable[..., Any]) -> tuple[tuple[inspect.Parameter, Any], ...]:
    hints, _ = resolve_hints(fn)
    params = inspect.signature(fn).parameters.values()
    return tuple((p, hints.get(p.name, p.annotation)) for p in params)


def wanted(fn: Callable[..., Any], given: Mapping[str, Any]) -> list[tuple[str, Depends]]:
    """The ``(parameter, Depends)`` pairs of ``fn`` that ``given`` does not fill."""
    return [
        (param.name, dep)
        for param, hint in parameters(fn)
        if param.name not in given and (dep := find_depends(hint, param.default)) is not None
    ]


class Injector:
    """Resolves an agent's ``Depends`` parameters in a scope of its own below ``scope``
    (``evoforum.forum.injection``): a run scope below the experiment, else a task scope."""

    __slots__ = ("runtime", "scope")

    def __init__(self, runtime: Runtime, scope: ScopeState) -> None:
        self.runtime, self.scope = runtime, scope

    @contextlib.asynccontextmanager
    async def __call__(
        self, fn: Callable[..., Any], given: Mapping[str, Any]
    ) -> AsyncIterator[dict[str, Any]]:
        scope = self.scope.child("run" if self.scope.kind == "experiment" else "task")
        try:
            yield await resolve_all(self.runtime, wanted(fn, given), scope)
        finally:
            await scope.close()


@contextlib.contextmanager
def injecting(runtime: Runtime, scope: ScopeState) -> Iterator[None]:
    """Agents called in this block (and in tasks and agents started from it) resolve their
    ``Depends`` from ``runtime`` below ``scope``."""
    token = INJECTOR.set(Injector(runtime, scope))
    try:
        yield
    finally:
        INJECTOR.reset(token)


async def resolve_all(
    runtime: Runtime, depends: Sequence[tuple[str, Depends]], scope: ScopeState
) -> dict[str, Any]:
    """The value of each ``(parameter, Depends)`` pair, resolved from ``scope`` outwards."""
    return {name: await resolve(runtime, dep, scope) for name, dep in depends}


async def resolve(runtime: Runtime, dep: Depends, scope: ScopeState) -> Any:
    """One dependency's value: from its scope's cache (by provider and arguments) or fresh."""
    target = scope.find(dep.scope)
    if target is None:
        raise UsageError(f"{dep!r} needs a {dep.scope!r} scope, but only {_open(scope)} are open here")
    if not dep.cache:
        return await _produce(runtime, dep, target)
    key = (dep.provider, arguments_key(dep.args, dep.kwargs))
    found = target.cache.get(key)
    if found is None:
        found = asyncio.get_running_loop().create_future()
        target.cache[key] = found
        try:
            found.set_result(await _produce(runtime, dep, target))
        except BaseException as error:
            del target.cache[key]
            found.set_exception(error)
            found.exception()  # retrieved here; waiters get it below
            raise
    return await asyncio.shield(found) if not found.done() else found.result()


def _open(scope: ScopeState) -> str:
    kinds: list[str] = []
    current: ScopeState | None = scope
    while current is not None:
        kinds.append(current.kind)
        current = current.parent
    return ", ".join(kinds)


async def _produce(runtime: Runtime, dep: Depends, scope: ScopeState) -> Any:
    impl = runtime.overrides.get(dep.provider, dep.provider)
    kwargs = await _arguments(runtime, impl, dep, scope)
    if inspect.isasyncgenfunction(impl):
        manager = contextlib.asynccontextmanager(impl)(*dep.args, **kwargs)
        return await scope.stack.enter_async_context(manager)
    if inspect.isgeneratorfunction(impl):
        return scope.stack.enter_context(contextlib.contextmanager(impl)(*dep.args, **kwargs))
    value = impl(*dep.args, **kwargs)
    if inspect.isawaitable(value):
        value = await value
    if getattr(impl, _ENTER_ATTR, dep.enter) and isinstance(value, AbstractAsyncContextManager):
        value = await scope.stack.enter_async_context(value)
    return value


async def _arguments(
    runtime: Runtime, fn: Callable[..., Any], dep: Depends, scope: ScopeState
) -> dict[str, Any]:
    """Keyword arguments for a provider: given ones, sub-dependencies and the runtime."""
    kwargs = dict(dep.kwargs)
    given = len(dep.args)
    for position, (param, hint) in enumerate(parameters(fn)):
        if position < given and param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            continue
        if param.name in kwargs or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        sub = find_depends(hint, param.default)
        if sub is not None:
            if SCOPES.index(sub.scope) > SCOPES.index(scope.kind):
                raise UsageError(
                    f"{dep!r} lives in scope {scope.kind!r} but needs {sub!r}, which lives shorter"
                )
            kwargs[param.name] = await resolve(runtime, sub, scope)
        elif hint in type(runtime).__mro__[:-1]:  # the Runtime class (or a subclass), not object
            kwargs[param.name] = runtime
        elif param.default is param.empty:
            name = getattr(fn, "__qualname__", repr(fn))
            raise UsageError(f"provider {name} needs {param.name!r}: give it in Depends(...) or a default")
    return kwargs
