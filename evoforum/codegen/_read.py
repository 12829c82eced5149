"""Reading libcst nodes of an exported module as data (never evaluating them)."""

from __future__ import annotations

from typing import Any

import libcst as cst

from evoforum.errors import did_you_mean


class Rejected(Exception):
    """A node that is not in the exported form; ``parse`` turns it into ``CodeRejected``."""

    def __init__(self, node: cst.CSTNode, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


LITERAL = "a literal (a string, number, True, False, None, or a list, tuple or dict of them)"


def literal(node: cst.BaseExpression) -> Any:
    """The value of a literal expression."""
    if isinstance(node, cst.SimpleString | cst.ConcatenatedString):
        value = node.evaluated_value
        if not isinstance(value, str):
            raise Rejected(node, "expected a text string (not bytes or an f-string)")
        return value
    if isinstance(node, cst.Integer | cst.Float):
        return node.evaluated_value
    if (
        isinstance(node, cst.UnaryOperation)
        and isinstance(node.operator, cst.Minus)
        and isinstance(node.expression, cst.Integer | cst.Float)
    ):
        return -node.expression.evaluated_value
    if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[node.value]
    if isinstance(node, cst.List | cst.Tuple):
        items = []
        for element in node.elements:
            if not isinstance(element, cst.Element):
                raise Rejected(element, f"expected {LITERAL}")
            items.append(literal(element.value))
        return items if isinstance(node, cst.List) else tuple(items)
    if isinstance(node, cst.Dict):
        result = {}
        for item in node.elements:
            if not isinstance(item, cst.DictElement):
                raise Rejected(item, f"expected {LITERAL}")
            result[literal(item.key)] = literal(item.value)
        return result
    raise Rejected(node, f"expected {LITERAL}")


def text(node: cst.BaseExpression, what: str) -> str:
    """A string literal's value."""
    value = literal(node)
    if not isinstance(value, str):
        raise Rejected(node, f"expected {what} as a string")
    return value


def name(node: cst.BaseExpression, what: str) -> str:
    """The identifier of a bare name."""
    if not isinstance(node, cst.Name):
        raise Rejected(node, f"expected {what} as a bare name")
    return node.value


def keywords(call: cst.Call, allowed: list[str], what: str) -> dict[str, cst.BaseExpression]:
    """The keyword arguments of ``call``; positional or unknown ones are rejected."""
    found: dict[str, cst.BaseExpression] = {}
    for arg in call.args:
        if arg.keyword is None or arg.star:
            raise Rejected(arg, f"{what} takes keyword arguments only")
        key = arg.keyword.value
        if key not in allowed:
            raise Rejected(arg, f"{what} has no argument {key!r}{did_you_mean(key, allowed)}")
        if key in found:
            raise Rejected(arg, f"argument {key!r} is given twice")
        found[key] = arg.value
    return found


def callee(node: cst.BaseExpression) -> str | None:
    """The name a call calls (``f`` of ``f(...)``), or None when ``node`` is no such call."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name):
        return node.func.value
    return None
