"""Transition mutation: only well-formed machines are proposed, and children are still checked."""

from __future__ import annotations

import random
from collections import Counter

import pytest

import search_spaces
from evoforum.evolve.operators import OperatorContext
from evoforum.evolve.operators._edit import machines
from evoforum.evolve.operators.machines import _well_formed, mut_transition
from evoforum.genome import TransitionSpec

from .conftest import SPACES, population


def _edges(*pairs: str) -> list[TransitionSpec]:
    return [TransitionSpec(source=pair[0], target=pair[1]) for pair in pairs]


@pytest.mark.parametrize(
    ("transitions", "sound"),
    [
        (_edges("ab", "bc"), True),  # a chain ending in c
        (_edges("ab", "ba"), False),  # no final state
        (_edges("ab", "ac"), True),  # two ways out of a
        (_edges("ab", "bb", "ac"), False),  # b loops forever: no way out of b
        (_edges("ac"), False),  # b unreachable
        (_edges("ab", "bc", "ca"), False),  # a cycle with no final state
        (_edges("ab", "ba", "bc"), True),  # a retry loop that can still finish
    ],
)
def test_well_formed_machines(transitions: list[TransitionSpec], sound: bool) -> None:
    assert _well_formed(["a", "b", "c"], "a", transitions) is sound


@pytest.mark.parametrize("space", SPACES)
async def test_transition_children_are_valid_and_change_one_transition(space: str) -> None:
    context = OperatorContext(space=search_spaces.get(space))
    pool = [g for g in population(space, 24) if any(m.transitions for _, m in machines(g))]
    rng = random.Random(5)
    kinds: Counter[str] = Counter()
    for _ in range(60):
        parent = rng.choice(pool)
        for child in await mut_transition([parent], rng, context):
            assert context.check(child) == []
            before = {t for _, m in machines(parent) for t in m.transitions}
            after = {t for _, m in machines(child) for t in m.transitions}
            kinds["drop" if len(after) < len(before) else "retarget"] += 1
            assert len(before - after) == 1
    counts = context.stats.of("mut_transition")
    assert counts.invalid == 0
    assert counts.children == sum(kinds.values()) > 0
    assert kinds["retarget"] > 0


async def test_mut_guard_value_moves_an_attempt_limit_and_gives_the_loop_the_steps_to_use_it() -> None:
    from evoforum.evolve.operators.machines import mut_guard_value
    from evoforum.genome import CompareSpec, MachineSpec

    space = search_spaces.get("code_writing")
    context = OperatorContext(space=space)
    parent = space.seeds()[0]  # repair until passed, or attempts >= 2; max_steps 5
    assert isinstance(parent.entry, MachineSpec)
    limits = set()
    for seed in range(30):
        for child in await mut_guard_value([parent], random.Random(seed), context):
            assert space.check(child) == []
            assert isinstance(child.entry, MachineSpec)
            values = [t.guard.value for t in child.entry.transitions if isinstance(t.guard, CompareSpec)]
            attempts = next(v for v in values if not isinstance(v, bool))
            assert isinstance(attempts, int)
            assert 0 <= attempts <= 4
            assert sum(v is True for v in values) == 2  # "passed == True" is no number: left alone
            assert child.entry.max_steps == parent.entry.max_steps + max(0, attempts - 2)
            limits.add(attempts)
    assert limits == {0, 1, 3, 4}
    assert await mut_guard_value([space.seeds()[2]], random.Random(0), context) == []  # no machine
