"""Tree genomes for genetic programming, with DEAP's GP operators drawing from an injected generator.

``deap.gp.genHalfAndHalf``, ``cxOnePoint``, ``mutUniform`` and ``staticLimit`` call the global
``random`` module inside deap. Swapping that name under a lock would make every run depend on a
process-wide patch (unsafe with threads, silently wrong if deap changes its imports), so the few
operators the engine needs are re-implemented here over ``deap.gp.PrimitiveTree`` with the same
semantics, drawing only from the ``random.Random`` they are given, and in the same order: seeded
alike, they produce exactly DEAP's trees (the tests and ``benchmarks/symbreg.py`` check this).
DEAP still supplies the primitive sets, trees, subtree search and compilation.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from deap import gp

from evoforum.hashing import digest

Condition = Callable[[int, int, random.Random], bool]


@dataclass(frozen=True, eq=False)
class TreeGenome:
    """A frozen GP expression: DEAP nodes in prefix order, named by the hash of its expression."""

    nodes: tuple[Any, ...]

    def tree(self) -> gp.PrimitiveTree:
        """A fresh (mutable) ``deap.gp.PrimitiveTree`` of these nodes."""
        return gp.PrimitiveTree(list(self.nodes))

    @cached_property
    def expression(self) -> str:
        return str(self.tree())

    @cached_property
    def hash(self) -> str:
        return digest(self.expression, domain="gp-tree")

    @cached_property
    def height(self) -> int:
        return int(self.tree().height)

    def __len__(self) -> int:
        return len(self.nodes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TreeGenome) and other.hash == self.hash

    def __hash__(self) -> int:
        return hash(self.hash)


def _full(height: int, depth: int, rng: random.Random) -> bool:
    return depth == height


def generate(
    pset: gp.PrimitiveSetTyped,
    min_: int,
    max_: int,
    condition: Condition,
    rng: random.Random,
    ephemerals: Mapping[str, Callable[[random.Random], Any]],
    type_: Any = None,
) -> list[Any]:
    """DEAP's ``gp.generate``: grow a prefix expression until ``condition`` stops each branch."""
    type_ = pset.ret if type_ is None else type_
    expr: list[Any] = []
    height = rng.randint(min_, max_)
    stack = [(0, type_)]
    while stack:
        depth, type_ = stack.pop()
        if condition(height, depth, rng):
            choices = pset.terminals[type_]
            if not choices:
                raise IndexError(f"no terminal of type {type_!r} in the primitive set")
            term = rng.choice(choices)
            if type(term) is gp.MetaEphemeral:
                term = _ephemeral(term, rng, ephemerals)
            expr.append(term)
        else:
            choices = pset.primitives[type_]
            if not choices:
                raise IndexError(f"no primitive of type {type_!r} in the primitive set")
            prim = rng.choice(choices)
            expr.append(prim)
            stack.extend((depth + 1, arg) for arg in reversed(prim.args))
    return expr


def _ephemeral(cls: Any, rng: random.Random, ephemerals: Mapping[str, Callable[[random.Random], Any]]) -> Any:
    sampler = ephemerals.get(cls.name)
    if sampler is None:
        raise KeyError(f"ephemeral constant {cls.name!r} has no seeded sampler in GPSpace.ephemerals")
    term = cls.__new__(cls)
    term.value = sampler(rng)
    return term


@dataclass(frozen=True)
class GPSpace:
    """A primitive set plus the settings of DEAP's classic GP operators.

    ``ephemerals`` maps each ephemeral constant's name to a seeded sampler, e.g.
    ``{"rand101": lambda rng: rng.randint(-1, 1)}`` for DEAP's ``partial(random.randint, -1, 1)``.
    Crossover and mutation apply ``staticLimit`` semantics: a child taller than ``max_height`` is
    replaced by one of its parents, chosen at random.
    """

    pset: gp.PrimitiveSetTyped
    ephemerals: Mapping[str, Callable[[random.Random], Any]] = field(default_factory=dict)
    init_min: int = 1
    init_max: int = 2
    mut_min: int = 0
    mut_max: int = 2
    max_height: int = 17

    def gen_full(self, rng: random.Random, min_: int, max_: int, type_: Any = None) -> list[Any]:
        """DEAP's ``genFull``: every leaf at the same depth, between ``min_`` and ``max_``."""
        return generate(self.pset, min_, max_, _full, rng, self.ephemerals, type_)

    def gen_grow(self, rng: random.Random, min_: int, max_: int, type_: Any = None) -> list[Any]:
        """DEAP's ``genGrow``: leaves at varying depths, between ``min_`` and ``max_``."""
        ratio = self.pset.terminalRatio

        def grow(height: int, depth: int, rng: random.Random) -> bool:
            return depth == height or (depth >= min_ and rng.random() < ratio)

        return generate(self.pset, min_, max_, grow, rng, self.ephemerals, type_)

    def gen_half_and_half(self, rng: random.Random, min_: int, max_: int, type_: Any = None) -> list[Any]:
        """DEAP's ``genHalfAndHalf``: ``gen_grow`` or ``gen_full``, with equal chance."""
        method = rng.choice((self.gen_grow, self.gen_full))
        return method(rng, min_, max_, type_)

    def init_tree(self, rng: random.Random, min_: int, max_: int) -> TreeGenome:
        """A new tree by ramped half-and-half between heights ``min_`` and ``max_``."""
        return TreeGenome(tuple(self.gen_half_and_half(rng, min_, max_)))

    def init(self, rng: random.Random) -> TreeGenome:
        """A new tree by ramped half-and-half between ``init_min`` and ``init_max``."""
        return self.init_tree(rng, self.init_min, self.init_max)

    def cx_one_point(self, a: TreeGenome, b: TreeGenome, rng: random.Random) -> tuple[TreeGenome, TreeGenome]:
        """DEAP's ``cxOnePoint`` (exchange one subtree of matching type) under the height limit."""
        if len(a) < 2 or len(b) < 2:
            return a, b
        one, two = a.tree(), b.tree()
        types1: dict[Any, list[int]] = defaultdict(list)
        types2: dict[Any, list[int]] = defaultdict(list)
        if one.root.ret == gp.__type__:
            types1[gp.__type__] = list(range(1, len(one)))
            types2[gp.__type__] = list(range(1, len(two)))
            common = [gp.__type__]
        else:
            for index, node in enumerate(one[1:], 1):
                types1[node.ret].append(index)
            for index, node in enumerate(two[1:], 1):
                types2[node.ret].append(index)
            common = [t for t in types1 if t in types2]
        if common:
            type_ = rng.choice(common)
            slice1 = one.searchSubtree(rng.choice(types1[type_]))
            slice2 = two.searchSubtree(rng.choice(types2[type_]))
            one[slice1], two[slice2] = two[slice2], one[slice1]
        children = [TreeGenome(tuple(one)), TreeGenome(tuple(two))]
        return self._limit(children[0], (a, b), rng), self._limit(children[1], (a, b), rng)

    def mut_uniform(self, a: TreeGenome, rng: random.Random) -> TreeGenome:
        """DEAP's ``mutUniform`` with ``genFull(mut_min, mut_max)`` under the height limit."""
        tree = a.tree()
        index = rng.randrange(len(tree))
        slice_ = tree.searchSubtree(index)
        tree[slice_] = self.gen_full(rng, self.mut_min, self.mut_max, tree[index].ret)
        return self._limit(TreeGenome(tuple(tree)), (a,), rng)

    def _limit(self, child: TreeGenome, parents: tuple[TreeGenome, ...], rng: random.Random) -> TreeGenome:
        return rng.choice(parents) if child.height > self.max_height else child
