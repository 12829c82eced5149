"""What an agent's cached answers are keyed by: a fingerprint of everything that shapes its answer.

``code_version(target)`` hashes, as canonical JSON (domain ``"agent-code"``):

- the source of ``target`` (its bytecode and constants when there is no source);
- its defaults and keyword-only defaults;
- the values its closure holds, by free-variable name (a cell not filled yet counts as empty).

For a class agent the source is the class's, and the defaults and closures are those of the
functions defined in it. Values are hashed by what they are: JSON values as they are (tuples as
lists, sets sorted, bytes as hex, dicts with other keys as sorted pairs); a pydantic model by its
class and JSON; a dataclass by its class and fields; an enum member by its class and value; a
``Message`` by its hash; a bound method by its function and object; a partial by its parts; a
module or builtin by its dotted name; an object with ``__evoforum_fingerprint__()`` (a
``Depends``, an ``Agent``) by what that returns. A function or class defined inside another
function counts by its own fingerprint (so the prompt a nested helper closes over counts); one
defined at module level by its dotted name, as globals the agent names do. Anything else (a lock,
a client, a socket) has no canonical value: ``NotSerializable`` names it, and the agent needs an
explicit ``version=``.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import types
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from evoforum.errors import NotSerializable
from evoforum.forum.message import Message
from evoforum.hashing import canonical_json, digest

FINGERPRINT_HOOK = "__evoforum_fingerprint__"
"""A method an object defines to give its canonical value (JSON data) to an agent's identity."""


def code_version(target: Callable[..., Any]) -> str:
    """A short hash of ``target``'s source, defaults and closure values (see the module docstring)."""
    return digest(_fingerprint(target, set()), domain="agent-code")[:16]


def _dotted(value: Any) -> str:
    return f"{getattr(value, '__module__', None)}.{getattr(value, '__qualname__', type(value).__qualname__)}"


def _source(target: Any) -> Any:
    try:
        return inspect.getsource(target)
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        return [code.co_code.hex(), repr(code.co_consts)] if code is not None else _dotted(target)


def _fingerprint(target: Any, seen: set[int]) -> dict[str, Any]:
    """The hashable description of a function or class agent (``seen`` guards recursion)."""
    seen = seen | {id(target)}
    if inspect.isclass(target):
        members = {
            name: _function_state(function, seen)
            for name, function in sorted(vars(target).items())
            if isinstance(function, types.FunctionType)
        }
        return {"source": _source(target), "members": members}
    function = inspect.unwrap(target) if isinstance(target, types.FunctionType) else target
    if not isinstance(function, types.FunctionType):
        return {"object": _value(target, seen, "the agent")}
    return {"source": _source(function), **_function_state(function, seen)}


def _function_state(function: types.FunctionType, seen: set[int]) -> dict[str, Any]:
    """A function's defaults and closure values, hashed."""
    name = function.__qualname__
    closure: dict[str, Any] = {}
    for var, cell in zip(function.__code__.co_freevars, function.__closure__ or (), strict=True):
        try:
            content = cell.cell_contents
        except ValueError:  # an empty cell: assigned after the function was made
            closure[var] = {"empty": True}
            continue
        closure[var] = _value(content, seen, f"closure value {var!r} of {name}")
    return {
        "defaults": _value(function.__defaults__ or (), seen, f"a default of {name}"),
        "kwdefaults": _value(function.__kwdefaults__ or {}, seen, f"a keyword default of {name}"),
        "closure": closure,
    }


def _value(value: Any, seen: set[int], where: str) -> Any:
    """The canonical JSON value standing for ``value`` in a fingerprint."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        try:
            canonical_json(value)
        except NotSerializable:
            raise _unhashable(value, where) from None
        return value
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, list | tuple):
        return [_value(item, seen, where) for item in value]
    if isinstance(value, set | frozenset):
        return {"set": sorted((_value(item, seen, where) for item in value), key=canonical_json)}
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value):
            return {key: _value(item, seen, where) for key, item in value.items()}
        pairs = [[_value(k, seen, where), _value(v, seen, where)] for k, v in value.items()]
        return {"pairs": sorted(pairs, key=canonical_json)}
    if isinstance(value, Message):
        return {"message": value.hash}
    if isinstance(value, enum.Enum):
        return {"enum": _dotted(type(value)), "value": _value(value.value, seen, where)}
    if isinstance(value, BaseModel):
        return {"model": _dotted(type(value)), "data": value.model_dump(mode="json")}
    hook = getattr(type(value), FINGERPRINT_HOOK, None)
    if hook is not None:
        try:
            data = hook(value)
        except NotSerializable as error:
            raise NotSerializable(f"{where}: {error}", where=where) from None
        return {"object": _dotted(type(value)), "data": _value(data, seen, where)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _value(getattr(value, f.name), seen, where) for f in dataclasses.fields(value)}
        return {"dataclass": _dotted(type(value)), "fields": fields}
    if isinstance(value, types.FunctionType | type):
        if "<locals>" not in value.__qualname__:
            return {"name": _dotted(value)}
        if id(value) in seen:  # a recursive function, or a class that names itself
            return {"recursive": _dotted(value)}
        return {"local": _dotted(value), "state": _fingerprint(value, seen)}
    if isinstance(value, types.MethodType):
        return {"method": _value(value.__func__, seen, where), "self": _value(value.__self__, seen, where)}
    if isinstance(value, functools.partial):
        return {
            "partial": _value(value.func, seen, where),
            "args": _value(value.args, seen, where),
            "keywords": _value(value.keywords, seen, where),
        }
    if isinstance(value, types.ModuleType | types.BuiltinFunctionType):
        return {"name": _dotted(value) if not isinstance(value, types.ModuleType) else value.__name__}
    raise _unhashable(value, where)


def _unhashable(value: Any, where: str) -> NotSerializable:
    return NotSerializable(
        f"{where} is a {type(value).__name__}, which has no canonical value to hash", where=where
    )
