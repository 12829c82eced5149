"""Seeded randomness: every generator is derived from the experiment seed, never from global state.

The engine draws from one ``random.Random`` seeded by the experiment seed (its state is part of
every checkpoint); operators receive it as an argument. Code that wants NumPy, or a stream of its
own that does not depend on call order, derives one from stable keys::

    numpy_rng(seed, generation, genome_hash)
"""

from __future__ import annotations

import random

import numpy as np

from evoforum.hashing import digest


def derive_seed(*keys: int | str) -> int:
    """A 64-bit seed that depends only on ``keys`` (stable across processes and machines)."""
    return int(digest([str(key) for key in keys], domain="seed")[:16], 16)


def python_rng(*keys: int | str) -> random.Random:
    """A ``random.Random`` seeded from ``keys``."""
    return random.Random(derive_seed(*keys))


def numpy_rng(*keys: int | str) -> np.random.Generator:
    """A NumPy ``Generator`` seeded from ``keys``, e.g. (experiment seed, generation, genome hash)."""
    return np.random.default_rng(derive_seed(*keys))
