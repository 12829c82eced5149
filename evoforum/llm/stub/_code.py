"""Plausible edits of Python code for the stub model: small mutations and recombination.

Every answer parses: the code is edited as an ``ast`` tree and written back with ``ast.unparse``
(comments are lost, as a model rewriting code might lose them).
"""

from __future__ import annotations

import ast
import random

_COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
}
_BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Add,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
}


def mutate(source: str, rng: random.Random, edits: int | None = None) -> str:
    """``source`` with one to three small edits (constants, comparisons, arithmetic operators)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    sites: list[ast.AST] = []
    for node in ast.walk(tree):
        is_number = isinstance(node, ast.Constant) and type(node.value) in (int, float)
        if is_number or isinstance(node, ast.Compare | ast.BinOp):
            sites.append(node)
    if not sites:
        return ast.unparse(tree)
    count = edits if edits is not None else rng.randint(1, 3)
    for node in rng.sample(sites, min(count, len(sites))):
        _edit(node, rng)
    return ast.unparse(tree)


def _edit(node: ast.AST, rng: random.Random) -> None:
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        node.value = (
            node.value + rng.choice((-1, 1, 2))
            if abs(node.value) < 4
            else node.value * rng.choice((2, 3)) // 2
        )
    elif isinstance(node, ast.Constant) and isinstance(node.value, float):
        node.value = round(node.value * rng.uniform(0.5, 1.5), 4)
    elif isinstance(node, ast.Compare):
        index = rng.randrange(len(node.ops))
        swap = _COMPARE_SWAPS.get(type(node.ops[index]))
        if swap is not None:
            node.ops[index] = swap()
    elif isinstance(node, ast.BinOp):
        binop = _BINOP_SWAPS.get(type(node.op))
        if binop is not None:
            node.op = binop()


def recombine(sources: list[str], rng: random.Random) -> str:
    """One program from several: each top-level function or class from a random parent that has it."""
    trees: list[ast.Module] = []
    for source in sources:
        try:
            trees.append(ast.parse(source))
        except SyntaxError:
            continue
    if not trees:
        return sources[0]
    offers: dict[str, list[ast.stmt]] = {}
    for tree in trees:
        for statement in tree.body:
            name = _name(statement)
            if name is not None:
                offers.setdefault(name, []).append(statement)
    body: list[ast.stmt] = []
    taken: set[str] = set()
    imports: set[str] = set()
    for tree in trees:
        for statement in tree.body:
            name = _name(statement)
            if isinstance(statement, ast.Import | ast.ImportFrom):
                text = ast.unparse(statement)
                if text not in imports:
                    imports.add(text)
                    body.append(statement)
            elif name is not None and name not in taken:
                taken.add(name)
                body.append(rng.choice(offers[name]))
            elif name is None and tree is trees[0]:
                body.append(statement)
    child = ast.unparse(ast.Module(body=body, type_ignores=[]))
    return mutate(child, rng, edits=1) if rng.random() < 0.5 else child


def _name(statement: ast.stmt) -> str | None:
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return statement.name
    return None
