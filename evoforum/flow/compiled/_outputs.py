"""Checking what a task returns against its return annotation.

``output_check(task)`` is None when there is nothing to check: no annotation, ``Any`` or
``object``, or an iterable pydantic would only validate lazily (it would hand back a wrapper
instead of the value). Otherwise it is a function that gives the output validated by pydantic's
``TypeAdapter`` in lax mode (a dict a ``-> Report`` task returns becomes the ``Report``, an int of
a ``-> float`` task a float) or raises ``OutputMismatch`` naming the task and each field that does
not fit. For a class pydantic has no schema for the check is ``isinstance``; a type neither can
check (a ``typing.TypedDict`` before Python 3.12, which pydantic refuses) is not checked. An
output whose type is exactly the annotated class passes without a pydantic call, so plain tasks
stay cheap.
"""

from __future__ import annotations

import collections.abc
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, get_origin

from pydantic import TypeAdapter, ValidationError

from evoforum.errors import OutputMismatch
from evoforum.flow._types import describe, strip

if TYPE_CHECKING:
    from evoforum.flow.task import Task

Check = Callable[[Any], Any]

_LAZY = (
    collections.abc.Iterable,
    collections.abc.Iterator,
    collections.abc.Generator,
    collections.abc.AsyncIterable,
    collections.abc.AsyncIterator,
    collections.abc.AsyncGenerator,
)
_SHOWN_PROBLEMS = 5


def output_check(t: Task[Any]) -> Check | None:
    """The check of ``t``'s output, or None (see the module docstring)."""
    annotation = t.signature.output
    base = strip(annotation)
    if base is Any or base is object or base in _LAZY or get_origin(base) in _LAZY:
        return None
    if base is None or base is type(None):
        base = annotation = type(None)
    validate = _validator(annotation)
    exact = base if isinstance(base, type) and get_origin(base) is None and annotation is base else None
    if validate is None and (exact is None or not _has_instances(exact)):
        return None  # neither pydantic nor isinstance can check it
    name, kind = t.name, describe(annotation)

    def check(output: Any) -> Any:
        if type(output) is exact:
            return output
        if validate is None:
            if isinstance(output, exact):  # type: ignore[arg-type]
                return output
            raise OutputMismatch(
                f"task {name!r} returned a {type(output).__name__}, not a {kind}",
                task=name,
                annotation=kind,
                fields=[],
            )
        try:
            return validate(output)
        except ValidationError as error:
            raise _mismatch(name, kind, error) from None

    return check


def _has_instances(kind: type) -> bool:
    """Whether ``isinstance`` works with ``kind`` (not with a TypedDict or a plain protocol)."""
    try:
        isinstance(None, kind)
    except TypeError:
        return False
    return True


@functools.lru_cache(maxsize=1024)
def _cached_validator(annotation: Any) -> Check | None:
    try:
        return TypeAdapter(annotation).validate_python
    except Exception:  # no schema for it (an arbitrary class), or an unresolvable forward reference
        return None


def _validator(annotation: Any) -> Check | None:
    try:
        return _cached_validator(annotation)
    except TypeError:  # an unhashable annotation
        return _cached_validator.__wrapped__(annotation)


def _mismatch(name: str, kind: str, error: ValidationError) -> OutputMismatch:
    problems = error.errors(include_url=False)
    fields = [".".join(str(part) for part in problem["loc"]) or "(the value)" for problem in problems]
    lines = [f"{field}: {problem['msg']}" for field, problem in zip(fields, problems, strict=True)]
    shown = "; ".join(lines[:_SHOWN_PROBLEMS])
    if len(lines) > _SHOWN_PROBLEMS:
        shown += f"; and {len(lines) - _SHOWN_PROBLEMS} more"
    return OutputMismatch(
        f"task {name!r} returned a value that is not a {kind}: {shown}",
        task=name,
        annotation=kind,
        fields=fields,
    )
