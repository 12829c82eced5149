"""A task's signature: its input ports, injected parameters and output type, read from its function."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

from evoforum.flow.depends import Depends, find_depends
from evoforum.forum.injection import resolve_hints

REQUIRED: Any = inspect.Parameter.empty
"""The default of a port that has none."""


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
