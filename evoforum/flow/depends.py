"""Dependency injection: ``Depends(provider, *args, **kwargs)``, FastAPI-style.

A task (or a provider, or any callable given to ``Runtime.call``) declares what it needs as a
parameter whose default is ``Depends(...)`` or whose annotation is ``Annotated[X, Depends(...)]``::

    async def summarize(text: str, llm: LLMClient = Depends(providers.llm)) -> str: ...

A provider is any callable: a function, a coroutine function, a generator or an async generator
function (the code after ``yield`` runs when the provider's scope closes). A provider's own
parameters are resolved the same way (sub-dependencies), taken from the arguments given to
``Depends``, or left to their defaults; a parameter annotated ``Runtime`` receives the runtime.

Each value is cached in its scope, keyed by the provider *and* its arguments: ``Depends(make, 1)``
and ``Depends(make, 2)`` are two values; the same pair asked twice in one scope is one value.
Scopes nest ``experiment ⊃ run ⊃ task``: ``experiment`` lives as long as the ``Runtime``, ``run``
as one flow or machine run, ``task`` as one attempt of one task. Resources are closed in reverse
order of creation when their scope closes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin

from evoforum.forum.injection import Injected

Scope = Literal["experiment", "run", "task"]
"""How long a provided value lives: the runtime's life, one run, or one task attempt."""

SCOPES: tuple[Scope, ...] = ("experiment", "run", "task")

F = TypeVar("F", bound=Callable[..., Any])

_SCOPE_ATTR = "__evoforum_scope__"
_ENTER_ATTR = "__evoforum_enter__"


def provider(*, scope: Scope = "run", enter: bool = True) -> Callable[[F], F]:
    """Declare a provider's default scope, and whether a context manager it returns is entered.

    ``enter=True`` (the default) enters a returned (async) context manager and exits it when the
    scope closes; providers that hand out a resource owned elsewhere (the runtime's bus, forum…)
    say ``enter=False``.
    """

    def mark(fn: F) -> F:
        setattr(fn, _SCOPE_ATTR, scope)
        setattr(fn, _ENTER_ATTR, enter)
        return fn

    return mark


class Depends(Injected):
    """A parameter whose value a provider supplies at call time, instead of the flow wiring."""

    __slots__ = ("args", "cache", "enter", "kwargs", "provider", "scope")

    def __init__(
        self,
        provider: Callable[..., Any],
        *args: Any,
        scope: Scope | None = None,
        cache: bool = True,
        **kwargs: Any,
    ) -> None:
        if not callable(provider):
            raise TypeError(f"Depends() needs a callable provider, got {provider!r}")
        chosen = scope if scope is not None else getattr(provider, _SCOPE_ATTR, "run")
        if chosen not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {chosen!r}")
        self.provider = provider
        self.args = args
        self.kwargs = kwargs
        self.scope: Scope = chosen
        self.cache = cache
        self.enter: bool = getattr(provider, _ENTER_ATTR, True)

    def __repr__(self) -> str:
        name = getattr(self.provider, "__qualname__", repr(self.provider))
        return f"Depends({name}, scope={self.scope!r})"

    def __evoforum_fingerprint__(self) -> list[Any]:
        """What an agent's identity counts of a ``Depends`` default (``evoforum/forum/_identity.py``)."""
        return [self.provider, list(self.args), self.kwargs, self.scope, self.cache]


def find_depends(annotation: Any, default: Any) -> Depends | None:
    """The ``Depends`` a parameter declares through its default or its ``Annotated`` metadata."""
    if isinstance(default, Depends):
        return default
    if get_origin(annotation) is Annotated:
        for extra in get_args(annotation)[1:]:
            if isinstance(extra, Depends):
                return extra
    return None
