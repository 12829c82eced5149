"""parse(export(g)) gives g back: for fixed genomes and for random valid ones."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import search_spaces
from evoforum.codegen import export, parse
from evoforum.genome import WorkflowGenome
from search_spaces.strategies import genomes


@pytest.mark.parametrize("name", sorted(search_spaces.SPACES))
def test_random_genomes_of_each_space_round_trip(name: str) -> None:
    space = search_spaces.get(name)
    for seed in range(15):
        genome = space.random_genome(np.random.default_rng(seed))
        assert parse(export(genome)).hash == genome.hash


@settings(max_examples=60, deadline=None)
@given(genomes())
def test_round_trip_property(genome: WorkflowGenome) -> None:
    source = export(genome)
    back = parse(source)
    assert back.hash == genome.hash
    assert back == genome  # metadata too
    assert export(back) == source
