"""GP operators: seeded re-implementations that match DEAP's own, draw for draw."""

from __future__ import annotations

import itertools
import math
import operator
import pickle
import random
from collections.abc import Iterator
from functools import partial

import pytest
from deap import gp

from evoforum.evolve import GPSpace, TreeGenome


def _pset() -> gp.PrimitiveSet:
    pset = gp.PrimitiveSet("MAIN", 1)
    pset.addPrimitive(operator.add, 2)
    pset.addPrimitive(operator.mul, 2)
    pset.addPrimitive(operator.neg, 1)
    pset.addPrimitive(math.sin, 1)
    pset.addEphemeralConstant("gp_test_rand101", partial(random.randint, -1, 1))
    pset.renameArguments(ARG0="x")
    return pset


PSET = _pset()
SPACE = GPSpace(PSET, ephemerals={"gp_test_rand101": lambda rng: rng.randint(-1, 1)}, max_height=6)


@pytest.fixture
def global_random() -> Iterator[None]:
    """DEAP's operators use the global generator: restore its state after the comparison."""
    state = random.getstate()
    yield
    random.setstate(state)


@pytest.mark.usefixtures("global_random")
@pytest.mark.parametrize("seed", range(5))
def test_operators_match_deap_under_the_same_seed(seed: int) -> None:
    random.seed(seed)
    ours = random.Random(seed)
    for _ in range(20):
        theirs_a = gp.PrimitiveTree(gp.genHalfAndHalf(PSET, 1, 3))
        theirs_b = gp.PrimitiveTree(gp.genHalfAndHalf(PSET, 1, 3))
        a, b = SPACE.init_tree(ours, 1, 3), SPACE.init_tree(ours, 1, 3)
        assert (a.expression, b.expression) == (str(theirs_a), str(theirs_b))
        limit = gp.staticLimit(key=operator.attrgetter("height"), max_value=6)
        child_a, child_b = limit(gp.cxOnePoint)(theirs_a, theirs_b)
        ours_a, ours_b = SPACE.cx_one_point(a, b, ours)
        assert (ours_a.expression, ours_b.expression) == (str(child_a), str(child_b))
        expr = partial(gp.genFull, min_=0, max_=2)
        (mutant,) = limit(gp.mutUniform)(child_a, expr=expr, pset=PSET)
        assert SPACE.mut_uniform(ours_a, ours).expression == str(mutant)


def test_height_limit_replaces_a_too_tall_child_by_a_parent() -> None:
    rng = random.Random(1)
    trees = [SPACE.init_tree(rng, 3, 5) for _ in range(30)]
    for a, b in itertools.pairwise(trees):
        for child in SPACE.cx_one_point(a, b, rng):
            assert child.height <= 6 or child in (a, b)
        mutant = SPACE.mut_uniform(a, rng)
        assert mutant.height <= 6 or mutant == a


def test_tree_genome_is_frozen_hashable_and_pickles() -> None:
    genome = SPACE.init(random.Random(3))
    again = pickle.loads(pickle.dumps(genome))
    assert again == genome
    assert again.hash == genome.hash
    assert len({genome, again}) == 1
    assert len(genome.hash) == 64
    with pytest.raises(AttributeError):
        genome.nodes = ()  # type: ignore[misc]
    assert TreeGenome(genome.nodes).hash == genome.hash


def test_an_ephemeral_without_a_seeded_sampler_is_refused() -> None:
    space = GPSpace(PSET)

    def many_trees() -> None:
        for seed in range(50):
            space.init_tree(random.Random(seed), 2, 3)

    with pytest.raises(KeyError, match="gp_test_rand101"):
        many_trees()
