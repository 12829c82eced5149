"""Built-in providers for ``Depends``: the runtime's own resources, experiment-scoped.

``Depends(providers.llm)`` gives the runtime's ``LLMClient``, and so on for ``bus``, ``forum``,
``memory`` and ``config`` (the runtime's config mapping). A resource the runtime was not given
raises ``UsageError``; tests replace any of them with ``runtime.override(providers.llm, ...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from evoforum.errors import UsageError
from evoforum.flow.depends import provider

if TYPE_CHECKING:
    from evoforum.llm.protocol import LLMClient

from evoforum.flow.runtime import Runtime


def _given(value: Any, what: str) -> Any:
    if value is None:
        raise UsageError(
            f"this workflow needs a {what}, but the Runtime was built without one: Runtime({what}=...)"
        )
    return value


@provider(scope="experiment", enter=False)
def runtime(runtime: Runtime) -> Runtime:
    """The runtime itself."""
    return runtime


@provider(scope="experiment", enter=False)
def forum(runtime: Runtime) -> Any:
    """The runtime's forum (message trees)."""
    return runtime.forum


@provider(scope="experiment", enter=False)
def bus(runtime: Runtime) -> Any:
    """The runtime's bus."""
    return _given(runtime.bus, "bus")


@provider(scope="experiment", enter=False)
def memory(runtime: Runtime) -> Any:
    """The runtime's memory (key-value and vector stores)."""
    return _given(runtime.memory, "memory")


@provider(scope="experiment", enter=False)
def llm(runtime: Runtime) -> LLMClient:
    """The runtime's language-model client."""
    client: LLMClient = _given(runtime.llm, "llm")
    return client


@provider(scope="experiment", enter=False)
def config(runtime: Runtime) -> Mapping[str, Any]:
    """The runtime's config mapping."""
    return runtime.config
