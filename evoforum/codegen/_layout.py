"""A small layout engine for generated Python: flat when a line fits, else one item per line.

Every broken-up bracket ends with a trailing comma, so the output is stable under ``ruff format``
(a "magic" trailing comma keeps it broken; a flat line is only written when it fits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDTH = 88
INDENT = "    "


@dataclass(frozen=True)
class Atom:
    """Text that is never broken."""

    text: str


@dataclass(frozen=True)
class Str:
    """A string literal; too long, it becomes implicit concatenation split after each newline."""

    value: str


@dataclass(frozen=True)
class Seq:
    """A bracketed, comma-separated sequence: a call, a list, a tuple, a dict."""

    open: str
    items: list[Item]
    close: str
    always_break: bool = False
    single_tuple: bool = False


@dataclass(frozen=True)
class Chain:
    """``a >> b >> c``: broken, one operand per line inside parentheses."""

    parts: list[Node]


@dataclass(frozen=True)
class Suffixed:
    """``target`` followed by flat text such as ``.build(inputs=[...])`` (a chain gets parentheses)."""

    target: Node
    suffix: str


@dataclass(frozen=True)
class Item:
    """One element of a ``Seq``: ``head`` is ``"key": `` or ``name=`` (or empty)."""

    node: Node
    head: str = ""


Node = Atom | Str | Seq | Chain | Suffixed


def string(value: str) -> str:
    """A Python string literal for ``value``, double-quoted when that needs no extra escapes."""
    text = repr(value)
    if text.startswith("'") and '"' not in value:
        text = '"' + text[1:-1].replace("\\'", "'") + '"'
    return text


def literal(value: Any) -> Node:
    """The node of a JSON-like value (str, numbers, bool, None, lists, tuples, dicts)."""
    if isinstance(value, str):
        return Str(value)
    if isinstance(value, dict):
        return Seq("{", [Item(literal(v), f"{string(k)}: ") for k, v in value.items()], "}")
    if isinstance(value, tuple):
        return Seq("(", [Item(literal(v)) for v in value], ")", single_tuple=len(value) == 1)
    if isinstance(value, list):
        return Seq("[", [Item(literal(v)) for v in value], "]")
    return Atom(repr(value))


def flat(node: Node) -> str:
    """The one-line form of ``node``."""
    if isinstance(node, Atom):
        return node.text
    if isinstance(node, Str):
        return string(node.value)
    if isinstance(node, Chain):
        return " >> ".join(flat(part) for part in node.parts)
    if isinstance(node, Suffixed):
        inner = flat(node.target)
        return (f"({inner})" if isinstance(node.target, Chain) else inner) + node.suffix
    inner = ", ".join(item.head + flat(item.node) for item in node.items)
    return node.open + inner + ("," if node.single_tuple else "") + node.close


def render(node: Node, depth: int = 0, head: str = "", tail: str = "") -> list[str]:
    """The lines of ``head + node + tail`` at indentation ``depth``."""
    pad = INDENT * depth
    one = pad + head + flat(node) + tail
    must_break = isinstance(node, Seq) and node.always_break and node.items
    if (len(one) <= WIDTH and not must_break) or isinstance(node, Atom):
        return [one]
    if isinstance(node, Str):
        pieces = [p for p in node.value.splitlines(keepends=True) if p]
        if len(pieces) < 2:
            return [one]
        return [pad + head + "(", *(pad + INDENT + string(p) for p in pieces), pad + ")" + tail]
    if isinstance(node, Suffixed):
        hugged = _split_suffix(node, pad + head, tail)
        return hugged or render(node.target, depth, head, node.suffix + tail)
    if isinstance(node, Chain):
        lines = [pad + head + "("]
        for index, part in enumerate(node.parts):
            lines.extend(render(part, depth + 1, "" if index == 0 else ">> "))
        return [*lines, pad + ")" + tail]
    lines = [pad + head + node.open]
    for item in node.items:
        lines.extend(render(item.node, depth + 1, item.head, ","))
    return [*lines, pad + node.close + tail]


def _split_suffix(node: Suffixed, start: str, tail: str) -> list[str] | None:
    """``(a >> b).build(inputs=[...])`` split inside the suffix's call, as ``ruff format`` does
    first (its right-hand split) when the chain and the opening bracket fit on one line and the
    arguments on the next; None otherwise."""
    opened = node.suffix.find("(")
    if not isinstance(node.target, Chain) or opened < 0 or not node.suffix.endswith(")"):
        return None
    first = start + "(" + flat(node.target) + ")" + node.suffix[: opened + 1]
    middle = start[: len(start) - len(start.lstrip())] + INDENT + node.suffix[opened + 1 : -1]
    if len(first) > WIDTH or len(middle) > WIDTH:
        return None
    return [first, middle, start[: len(start) - len(start.lstrip())] + ")" + tail]


def call(name: str, args: list[Item], *, always_break: bool = False) -> Seq:
    """A call ``name(args…)``."""
    return Seq(f"{name}(", args, ")", always_break=always_break)
