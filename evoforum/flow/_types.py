"""Whether a value of one annotated type may flow into a port of another (build-time check).

Lenient where typing is open (``Any``, unknown forms, type variables) and strict where it is
clear (two classes that are not subclasses; a union with a member that does not fit).
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal, Union, get_args, get_origin

_UNIONS = (Union, types.UnionType)


def strip(annotation: Any) -> Any:
    """The annotation without ``Annotated`` metadata."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def describe(annotation: Any) -> str:
    """A short readable name of an annotation."""
    annotation = strip(annotation)
    if isinstance(annotation, type) and get_origin(annotation) is None:
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def fits(source: Any, target: Any) -> bool:
    """Whether a value typed ``source`` is acceptable where ``target`` is expected."""
    source, target = strip(source), strip(target)
    if source is Any or target is Any or target is object or source == target:
        return True
    if source is None:
        source = type(None)
    if target is None:
        target = type(None)
    if get_origin(source) in _UNIONS:
        return all(fits(member, target) for member in get_args(source))
    if get_origin(target) in _UNIONS:
        return any(fits(source, member) for member in get_args(target))
    if get_origin(source) is Literal:
        return all(fits(type(value), target) for value in get_args(source))
    if get_origin(target) is Literal or isinstance(source, typing.TypeVar | str):
        return True
    if isinstance(target, typing.TypeVar | str):
        return True
    return _fits_classes(source, target)


def _fits_classes(source: Any, target: Any) -> bool:
    source_origin = get_origin(source) or source
    target_origin = get_origin(target) or target
    if not (isinstance(source_origin, type) and isinstance(target_origin, type)):
        return True
    if target_origin is float and source_origin is int:
        return True
    try:
        if not issubclass(source_origin, target_origin):
            return False
    except TypeError:
        return True
    source_args, target_args = get_args(source), get_args(target)
    if source_args and target_args and len(source_args) == len(target_args):
        return all(fits(s, t) for s, t in zip(source_args, target_args, strict=True) if s is not Ellipsis)
    return True


def concrete(annotation: Any) -> bool:
    """Whether an output type says enough to be matched to a port by type."""
    annotation = strip(annotation)
    return annotation not in (Any, None, type(None), object)
