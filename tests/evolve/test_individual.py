"""Importable Fitness and Individual: DEAP semantics, picklable anywhere."""

from __future__ import annotations

import copy
import pickle
import random

from deap import tools

from evoforum.evolve.individual import Fitness, Individual
from evoforum.evolve.rng import derive_seed, numpy_rng, python_rng
from evoforum.evolve.toy import VectorSpace


def test_fitness_weights_per_instance_compare_and_pickle() -> None:
    low, high = Fitness((-1.0,), (3.0,)), Fitness((-1.0,), (1.0,))
    assert high > low  # minimising: the smaller value is fitter
    two = Fitness((1.0, -1.0), (2.0, 5.0))
    for again in (pickle.loads(pickle.dumps(two)), copy.deepcopy(two)):
        assert again.weights == (1.0, -1.0)
        assert again.values == (2.0, 5.0)
        assert again.wvalues == two.wvalues
    assert not pickle.loads(pickle.dumps(Fitness((1.0,)))).valid
    assert Fitness((1.0, 1.0), (2.0, 2.0)).dominates(Fitness((1.0, 1.0), (1.0, 2.0)))


def test_individuals_pickle_with_their_history_and_work_with_deap_tools() -> None:
    rng = random.Random(0)
    population = []
    for value in range(5):
        ind = Individual(VectorSpace().init(rng), (-1.0,), parents=("p",), operator="mut", generation=3)
        ind.fitness.values = (float(value),)
        population.append(ind)
    again = pickle.loads(pickle.dumps(population))
    assert [(i.hash, i.fitness.values, i.parents, i.operator, i.generation) for i in again] == [
        (i.hash, i.fitness.values, i.parents, i.operator, i.generation) for i in population
    ]
    assert tools.selBest(again, 1)[0].fitness.values == (0.0,)


def test_derived_generators_depend_only_on_their_keys() -> None:
    assert derive_seed(1, "a") == derive_seed(1, "a") != derive_seed(1, "b")
    assert python_rng(7, 2).random() == python_rng(7, 2).random()
    assert numpy_rng(7, 2, "h").integers(1 << 30) == numpy_rng(7, 2, "h").integers(1 << 30)


def test_failure_fitness_is_worst_in_every_direction_and_recognised() -> None:
    from evoforum.evolve.individual import FAILED, failure_fitness, is_failure

    assert failure_fitness((1.0, -1.0)) == (-FAILED, FAILED)
    assert is_failure(failure_fitness((1.0,)))
    assert is_failure(())
    assert not is_failure((0.5,))
    assert not is_failure((-1e298,))
