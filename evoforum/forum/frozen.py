"""Deep-frozen JSON values: what a ``Message`` holds as its content and metadata.

A message's hash is taken once, when it is made, so nothing it holds may change afterwards.
``freeze`` copies a JSON value into ``FrozenDict`` and ``FrozenList`` (tuples stay tuples, their
items frozen), whose mutating methods raise ``TypeError``. They are a ``dict`` and a ``list``
otherwise: equal to plain ones, readable by orjson, pydantic and ``json``, copied and pickled as
frozen values. ``dict(value)`` or ``list(value)`` gives a mutable shallow copy. Values orjson
writes but that are not plain JSON (a dataclass, a datetime, a numpy array…) are frozen as the
JSON they are hashed as, so a message holds exactly what a store gives back.
"""

from __future__ import annotations

from typing import Any, NoReturn

import orjson


def _refuse(self: object, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(f"a message's content is immutable ({type(self).__name__}); copy it to change it")


class FrozenDict(dict[str, Any]):
    """A ``dict`` that refuses every change; its values are frozen when it is made."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__({key: freeze(item) for key, item in dict(*args, **kwargs).items()})

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return self


class FrozenList(list[Any]):
    """A ``list`` that refuses every change; its items are frozen when it is made."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __init__(self, items: Any = ()) -> None:
        super().__init__(freeze(item) for item in items)

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))

    def __copy__(self) -> FrozenList:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenList:
        return self


_SCALARS = frozenset((str, int, float, bool, type(None)))
_FROZEN = frozenset((FrozenDict, FrozenList))


def freeze(value: Any) -> Any:
    """``value`` deep-frozen: dicts and lists copied into their frozen kinds, scalars as they are."""
    kind = type(value)
    if kind in _SCALARS or kind in _FROZEN:
        return value
    if kind is dict:  # the common case, without the copy FrozenDict(...) makes of its argument
        frozen: FrozenDict = FrozenDict.__new__(FrozenDict)
        dict.update(frozen, {key: freeze(item) for key, item in value.items()})
        return frozen
    if kind is list:
        items: FrozenList = FrozenList.__new__(FrozenList)
        list.extend(items, [freeze(item) for item in value])
        return items
    if isinstance(value, str | int | float):  # str, int and float subclasses (enums) are values too
        return value
    if isinstance(value, dict):
        return FrozenDict(value)
    if isinstance(value, list):
        return FrozenList(value)
    if isinstance(value, tuple):
        return tuple(freeze(item) for item in value)
    return freeze(orjson.loads(orjson.dumps(value)))
