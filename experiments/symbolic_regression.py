"""Symbolic regression: DEAP's quartic problem (x**4 + x**3 + x**2 + x) with the engine's GP genome.

Primitives as in DEAP's ``examples/gp/symbreg.py``: add, sub, mul, protected division, neg, cos,
sin and an ephemeral constant in {-1, 0, 1}. The valid split is DEAP's 20 points in [-1, 1); the
test split 20 points in between, so the reported test error is of points selection never saw.
Fitness is the mean squared error (minimised).
"""

from __future__ import annotations

import math
import operator
import random
from functools import cache
from typing import Any

import orjson
from deap import gp

from evoforum.evolve import GPSpace, TreeGenome
from experiments._base import Experiment, Problem, Splits

POINTS = {
    "train": [x / 10.0 + 0.025 for x in range(-10, 10)],
    "valid": [x / 10.0 for x in range(-10, 10)],
    "test": [x / 10.0 + 0.05 for x in range(-10, 10)],
}


def protected_div(left: float, right: float) -> float:
    try:
        return left / right
    except ZeroDivisionError:
        return 1.0


def _const() -> int:  # a placeholder: samples come from GPSpace.ephemerals (seeded)
    return 0


@cache
def primitive_set() -> gp.PrimitiveSet:
    pset = gp.PrimitiveSet("MAIN", 1)
    for function, arity in [
        (operator.add, 2), (operator.sub, 2), (operator.mul, 2), (protected_div, 2),
        (operator.neg, 1), (math.cos, 1), (math.sin, 1),
    ]:  # fmt: skip
        pset.addPrimitive(function, arity)
    pset.addEphemeralConstant("evoforum_rand101", _const)
    pset.renameArguments(ARG0="x")
    return pset


def space() -> GPSpace:
    return GPSpace(primitive_set(), ephemerals={"evoforum_rand101": lambda rng: rng.randint(-1, 1)})


def target(x: float) -> float:
    return x**4 + x**3 + x**2 + x


def mse(genome: TreeGenome, item: str, seed: int) -> tuple[float]:
    """Mean squared error of the expression on the item's points (``train``/``valid``/``test``)."""
    function = gp.compile(genome.tree(), primitive_set())
    try:
        errors = [(function(x) - target(x)) ** 2 for x in POINTS[item]]
        value = math.fsum(errors) / len(errors)
    except (OverflowError, ValueError):
        value = 1e6
    return (value if math.isfinite(value) else 1e6,)


def describe(genome: TreeGenome) -> str:
    return orjson.dumps({"expression": genome.expression, "height": genome.height}).decode()


def export(genome: TreeGenome) -> str:
    """A module defining ``f(x)``; run it to print f on the valid points."""
    return f'''"""Evolved by evoforum (symbolic regression): f(x) ~ x**4 + x**3 + x**2 + x."""

import math
from operator import add, mul, neg, sub

cos, sin = math.cos, math.sin


def protected_div(left, right):
    try:
        return left / right
    except ZeroDivisionError:
        return 1.0


def f(x):
    return {genome.expression}


if __name__ == "__main__":
    for x in [i / 10.0 for i in range(-10, 10)]:
        print(f"{{x:.2f}} {{f(x):.6f}}")
'''


class SymbolicRegression(Experiment):
    name = "symbolic_regression"
    kind = "custom"
    option_names = ()

    def splits(self) -> Splits:
        return Splits(train=("train",), valid=("valid",), test=("test",))

    def problem(self) -> Problem:
        gp_space = space()

        def report(genome: Any) -> dict[str, Any]:
            return {"expression": genome.expression, "solved": mse(genome, "valid", 0)[0] <= 1e-9}

        def init(rng: random.Random) -> TreeGenome:
            return gp_space.init(rng)

        init.__name__ = "init"
        from evoforum.evolve import Operators

        return Problem(
            operators=Operators(init=init, mutate=gp_space.mut_uniform, crossover=gp_space.cx_one_point),
            item_fn=mse,
            weights=(-1.0,),
            objectives=("mse",),
            describe=describe,
            export=export,
            report=report,
            random_init=init,
        )
