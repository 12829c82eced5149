"""Genetic programming on the genome's code through libcst: constants, expressions, statements.

Every edit replaces one node of one function body (``_cst.replace_node``), so the rest of the
module stays byte-identical; the result must parse and every function keeps its signature, or
the child is rejected (``CodeRejected``, counted invalid by ``vary``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import libcst as cst

from evoforum.evolve.operators import _cst
from evoforum.evolve.operators.base import Children, operator
from evoforum.evolve.operators.context import OperatorContext
from evoforum.genome import WorkflowGenome
from evoforum.genome.model import normalize_code


def _with_code(genome: WorkflowGenome, before: cst.Module, after: cst.Module) -> WorkflowGenome:
    return genome.model_copy(update={"code": normalize_code(_cst.checked(before, after))})


def _sites(module: cst.Module, kinds: tuple[type[cst.CSTNode], ...]) -> list[tuple[str, cst.CSTNode]]:
    return [
        (name, node)
        for name, function in _cst.functions(module).items()
        for node in _cst.expression_sites(function, kinds)
    ]


def perturb(node: cst.Integer | cst.Float, rng: random.Random) -> cst.BaseExpression:
    """A nearby number: small integers step by one or two, large ones halve or double; floats
    scale by 0.5 to 1.5. A negative result is written as a unary minus."""
    if isinstance(node, cst.Integer):
        number = int(node.evaluated_value)
        steps = (
            (number - 2, number - 1, number + 1, number + 2) if abs(number) < 8 else (number // 2, number * 2)
        )
        new: float = steps[rng.randrange(len(steps))]
        result: cst.BaseExpression = cst.Integer(str(int(abs(new))))
    else:
        value = float(node.evaluated_value)
        new = round(value * rng.uniform(0.5, 1.5), 4)
        new = new if new != value else value + 0.1
        result = cst.Float(repr(abs(new)))
    if new < 0:
        result = cst.UnaryOperation(operator=cst.Minus(), expression=result)
    return result


@operator("gp_constant")
def gp_constant(parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext) -> Children:
    """One number in a function body moved a little (constant perturbation)."""
    genome = parents[0]
    module = _cst.parse(genome.code)
    sites = _sites(module, _cst.NUMBERS)
    if not sites:
        return []
    _, node = sites[rng.randrange(len(sites))]
    assert isinstance(node, cst.Integer | cst.Float)
    return [_with_code(genome, module, _cst.replace_node(module, node, perturb(node, rng)))]


@operator("gp_subtree")
def gp_subtree(parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext) -> Children:
    """Subtree mutation: one expression (or, one time in four, one statement) of a function body
    is replaced by a different one of the same kind from the code's functions (mostly the same one)."""
    genome = parents[0]
    module = _cst.parse(genome.code)
    if rng.random() < 0.25:
        statements = [(n, s) for n, f in _cst.functions(module).items() for s in _cst.statement_sites(f)]
        return _swap_in(genome, module, statements, statements, rng)
    sites = _sites(module, _cst.EXPRESSIONS)
    return _swap_in(genome, module, sites, sites, rng)


def _swap_in(
    genome: WorkflowGenome,
    module: cst.Module,
    targets: Sequence[tuple[str, cst.CSTNode]],
    donors: Sequence[tuple[str, cst.CSTNode]],
    rng: random.Random,
) -> Children:
    if not targets:
        return []
    name, target = targets[rng.randrange(len(targets))]
    text = _cst.source(target)
    same_kind = [(n, d) for n, d in donors if type(d) is type(target) and _cst.source(d) != text]
    local = [(n, d) for n, d in same_kind if n == name]
    pool = local if local and rng.random() < 0.7 else same_kind
    if not pool:
        return []
    _, donor = pool[rng.randrange(len(pool))]
    return [_with_code(genome, module, _cst.replace_node(module, target, donor))]


@operator("gp_crossover", arity=2)
def gp_crossover(parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext) -> Children:
    """Subtree crossover: in a function both codes define, an expression (or a statement) of one
    kind is exchanged between the parents."""
    a, b = parents[0], parents[1]
    ma, mb = _cst.parse(a.code), _cst.parse(b.code)
    fa, fb = _cst.functions(ma), _cst.functions(mb)
    common = sorted(fa.keys() & fb.keys())
    if not common:
        return []
    name = common[rng.randrange(len(common))]
    statements = rng.random() < 0.3
    sites_a: list[cst.CSTNode] = (
        list(_cst.statement_sites(fa[name])) if statements else _cst.expression_sites(fa[name])
    )
    sites_b: list[cst.CSTNode] = (
        list(_cst.statement_sites(fb[name])) if statements else _cst.expression_sites(fb[name])
    )
    pairs = [
        (x, y) for x in sites_a for y in sites_b if type(x) is type(y) and _cst.source(x) != _cst.source(y)
    ]
    if not pairs:
        return []
    x, y = pairs[rng.randrange(len(pairs))]
    return [
        _with_code(a, ma, _cst.replace_node(ma, x, y)),
        _with_code(b, mb, _cst.replace_node(mb, y, x)),
    ]
