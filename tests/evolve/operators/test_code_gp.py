"""GP on code through libcst: children parse, signatures stay, and only the targeted node changes."""

from __future__ import annotations

import ast
import random

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

import search_spaces
from evoforum.errors import CodeRejected
from evoforum.evolve.operators import CODE_GP, Operator, OperatorContext, _cst
from evoforum.evolve.operators.code_gp import gp_constant

from .conftest import SPACES, population

CODE = '''import re


def score(xs: list[int], limit=3) -> int:
    """Sum what passes."""
    total = 0  # running total
    for x in xs:
        if x > limit and re.match("a", "a"):
            total = total + x * 2
    return total


def other(a):
    return a - 1
'''


def _signatures(code: str) -> dict[str, str]:
    tree = ast.parse(code)
    return {n.name: ast.dump(n.args) for n in tree.body if isinstance(n, ast.FunctionDef)}


@pytest.mark.parametrize("op", CODE_GP, ids=lambda op: op.name)
async def test_children_parse_and_keep_signatures(op: Operator) -> None:
    for space in SPACES:
        context = OperatorContext(space=search_spaces.get(space))
        pool = population(space)
        rng, again = random.Random(4), random.Random(4)
        made = []
        for _ in range(20):
            parents = rng.sample(pool, op.arity)
            replay = again.sample(pool, op.arity)
            children = await op(parents, rng, context)
            assert [c.hash for c in children] == [c.hash for c in await op(replay, again, context)]
            for child, parent in zip(children, parents, strict=False):
                ast.parse(child.code)
                assert _signatures(child.code) == _signatures(parent.code)
                assert child.code != parent.code
                made.append(child)
        assert made


def _offsets(code: str, node: cst.CSTNode, module: cst.Module) -> tuple[int, int]:
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    span = positions[node]
    lines = code.splitlines(keepends=True)

    def at(line: int, column: int) -> int:
        return sum(len(text) for text in lines[: line - 1]) + column

    return at(span.start.line, span.start.column), at(span.end.line, span.end.column)


def test_replace_node_touches_exactly_that_node() -> None:
    module = _cst.parse(CODE)
    function = _cst.functions(module)["score"]
    for node in _cst.expression_sites(function):
        start, end = _offsets(CODE, node, module)
        new = cst.Name("REPLACED")
        edited = _cst.replace_node(module, node, new).code
        assert edited == CODE[:start] + "REPLACED" + CODE[end:]


async def test_constant_perturbation_changes_one_number_only() -> None:
    genome = population("code_writing")[0].model_copy(update={"code": CODE})
    context = OperatorContext(space=search_spaces.get("code_writing"))
    for seed in range(8):
        children = await gp_constant([genome], random.Random(seed), context)
        for child in children:
            before, after = CODE.splitlines(), child.code.splitlines()
            changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
            assert len(changed) == 1
            assert "# running total" in child.code
            assert '"""Sum what passes."""' in child.code


def test_an_edit_that_breaks_a_signature_is_rejected() -> None:
    module = _cst.parse(CODE)
    function = _cst.functions(module)["other"]
    renamed = function.with_changes(params=cst.Parameters(params=[cst.Param(cst.Name("b"))]))
    with pytest.raises(CodeRejected, match="signature"):
        _cst.checked(module, _cst.replace_node(module, function, renamed))


def test_code_that_does_not_parse_is_rejected() -> None:
    with pytest.raises(CodeRejected):
        _cst.parse("def broken(:\n")
