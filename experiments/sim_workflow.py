"""A synthetic multi-agent benchmark whose best workflow is known exactly (no LLM at all).

A workflow is a team: 1-5 simulated **solvers** (skill = chance of the right answer, cost per
call), an optional **verifier** (accuracy, cost per answer checked) and an **aggregation**:
``first`` (the first solver's answer), ``majority`` (plurality; ties to the earliest solver) or
``verified`` (the first answer the verifier accepts, else the plurality). Wrong answers never
agree. An item has a difficulty d that scales every skill by (1 - d).

Utility = P(right answer) - ``COST_WEIGHT`` * cost. The expected utility of any team is computed
exactly by enumerating outcomes, and the whole space (a few thousand teams) is enumerated once,
so the optimum is known and **regret** = optimum - true utility of the team evolution picked.
Evaluating an item *simulates* one episode (seeded), so selection sees noise, as with real agents.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any, Literal

import orjson

from evoforum.evolve import Operators
from evoforum.hashing import digest
from experiments._base import Experiment, Problem, Splits

SOLVERS = {"tiny": (0.35, 1.0), "small": (0.5, 2.0), "medium": (0.65, 4.0), "large": (0.8, 9.0)}
VERIFIERS = {"weak": (0.7, 0.5), "strong": (0.92, 2.0)}
AGGREGATIONS: tuple[Aggregation, ...] = ("first", "majority", "verified")
Aggregation = Literal["first", "majority", "verified"]
DIFFICULTIES = (0.0, 0.15, 0.3)
COST_WEIGHT = 0.01
MAX_SOLVERS = 5


@dataclass(frozen=True, eq=False)
class Team:
    """One simulated workflow."""

    solvers: tuple[str, ...]
    verifier: str | None = None
    aggregation: Aggregation = "first"

    @cached_property
    def hash(self) -> str:
        return digest(self.as_dict(), domain="sim-team")

    def as_dict(self) -> dict[str, Any]:
        return {"solvers": list(self.solvers), "verifier": self.verifier, "aggregation": self.aggregation}

    def cost(self) -> float:
        cost = sum(SOLVERS[s][1] for s in self.solvers)
        if self.verifier is not None and self.aggregation == "verified":
            cost += VERIFIERS[self.verifier][1] * len(self.solvers)
        return cost

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Team) and other.hash == self.hash

    def __hash__(self) -> int:
        return hash(self.hash)


def _pick(correct: tuple[bool, ...], accepted: tuple[bool, ...] | None, aggregation: str) -> bool:
    """Whether the team's answer is right, given which solvers were right and what was accepted."""
    if aggregation == "verified" and accepted is not None:
        for index, ok in enumerate(accepted):
            if ok:
                return correct[index]
    if aggregation == "first":
        return correct[0]
    right = sum(correct)
    if right >= 2:
        return True  # wrong answers never agree, so two right ones win the plurality
    return correct[0]  # all counts are 1: the earliest solver's answer wins the tie


def expected_utility(team: Team, difficulty: float) -> float:
    """The exact expected utility of ``team`` on an item of ``difficulty``.

    With verification, the answer is solver i's when i is the first accepted one
    (P = prod_{j<i} P(j rejected) * P(i accepted and right or wrong)); when none is accepted, the
    plurality decides over the rejected answers, enumerated as right/wrong patterns.
    """
    skills = [SOLVERS[s][0] * (1.0 - difficulty) for s in team.solvers]
    verified = team.aggregation == "verified" and team.verifier is not None
    accuracy = VERIFIERS[team.verifier][0] if verified and team.verifier is not None else 0.0
    total, rejected_before = 0.0, 1.0
    if verified:
        for s in skills:
            total += rejected_before * s * accuracy
            rejected_before *= s * (1.0 - accuracy) + (1.0 - s) * accuracy
    for correct in itertools.product((True, False), repeat=len(skills)):
        if verified:  # every answer rejected: right ones with 1 - a, wrong ones with a
            p = math.prod(
                s * (1.0 - accuracy) if c else (1.0 - s) * accuracy
                for s, c in zip(skills, correct, strict=True)
            )
            total += p * _pick(correct, None, "majority")
        else:
            p = math.prod(s if c else 1.0 - s for s, c in zip(skills, correct, strict=True))
            total += p * _pick(correct, None, team.aggregation)
    return total - COST_WEIGHT * team.cost()


def true_utility(team: Team) -> float:
    """Expected utility over the difficulty levels (equally likely)."""
    return sum(expected_utility(team, d) for d in DIFFICULTIES) / len(DIFFICULTIES)


def all_teams() -> list[Team]:
    """Every team of the space, solvers in every order (order matters for ``first`` and ties)."""
    teams: list[Team] = []
    for size in range(1, MAX_SOLVERS + 1):
        for solvers in itertools.product(sorted(SOLVERS), repeat=size):
            for aggregation in AGGREGATIONS:
                verifiers = [*VERIFIERS] if aggregation == "verified" else [None]
                teams.extend(Team(solvers, v, aggregation) for v in verifiers)
    return teams


@cache
def optimum() -> tuple[float, Team]:
    """The best true utility of the space and a team reaching it (exhaustive enumeration)."""
    best = max(all_teams(), key=true_utility)
    return true_utility(best), best


def simulate(team: Team, item: str, seed: int) -> tuple[float]:
    """One simulated episode of ``team`` on ``item`` ("d<difficulty index>-<n>"): utility."""
    difficulty = DIFFICULTIES[int(item.split("-")[0][1:])]
    rng = random.Random(digest([team.hash, item, seed], domain="sim-episode"))
    correct = tuple(rng.random() < SOLVERS[s][0] * (1.0 - difficulty) for s in team.solvers)
    accepted = None
    if team.aggregation == "verified" and team.verifier is not None:
        accuracy = VERIFIERS[team.verifier][0]
        accepted = tuple((rng.random() < accuracy) == c for c in correct)
    return (float(_pick(correct, accepted, team.aggregation)) - COST_WEIGHT * team.cost(),)


def random_team(rng: random.Random) -> Team:
    solvers = tuple(rng.choice(sorted(SOLVERS)) for _ in range(rng.randint(1, MAX_SOLVERS)))
    aggregation = rng.choice(AGGREGATIONS)
    verifier = rng.choice(sorted(VERIFIERS)) if aggregation == "verified" else None
    return Team(solvers, verifier, aggregation)


def mutate(team: Team, rng: random.Random) -> Team:
    """Add, drop, change or swap a solver, or change the aggregation or the verifier."""
    solvers = list(team.solvers)
    move = rng.choice(("add", "drop", "change", "swap", "aggregation", "verifier"))
    if move == "add" and len(solvers) < MAX_SOLVERS:
        solvers.insert(rng.randrange(len(solvers) + 1), rng.choice(sorted(SOLVERS)))
    elif move == "drop" and len(solvers) > 1:
        solvers.pop(rng.randrange(len(solvers)))
    elif move == "swap" and len(solvers) > 1:
        i, j = rng.sample(range(len(solvers)), 2)
        solvers[i], solvers[j] = solvers[j], solvers[i]
    elif move in ("aggregation", "verifier"):
        aggregation = rng.choice(AGGREGATIONS) if move == "aggregation" else "verified"
        verifier = rng.choice(sorted(VERIFIERS)) if aggregation == "verified" else None
        return Team(tuple(solvers), verifier, aggregation)
    else:
        solvers[rng.randrange(len(solvers))] = rng.choice(sorted(SOLVERS))
    return Team(tuple(solvers), team.verifier, team.aggregation)


def crossover(a: Team, b: Team, rng: random.Random) -> tuple[Team, Team]:
    """One-point crossover of the solver lists; each child keeps its first parent's aggregation."""
    i, j = rng.randint(1, len(a.solvers)), rng.randint(1, len(b.solvers))
    one = (a.solvers[:i] + b.solvers[j:])[:MAX_SOLVERS]
    two = (b.solvers[:j] + a.solvers[i:])[:MAX_SOLVERS]
    return Team(one, a.verifier, a.aggregation), Team(two, b.verifier, b.aggregation)


def seed_team(rng: random.Random) -> Team:
    """The seed workflow: one small solver."""
    return Team(("small",), None, "first")


def describe(team: Team) -> str:
    return orjson.dumps(team.as_dict()).decode()


def export(team: Team) -> str:
    return f'''"""Evolved by evoforum (sim_workflow): a simulated team and its exact expected utility."""

from experiments.sim_workflow import Team, true_utility

TEAM = Team(solvers={team.solvers!r}, verifier={team.verifier!r}, aggregation={team.aggregation!r})

if __name__ == "__main__":
    print(f"{{true_utility(TEAM):.6f}}")
'''


def report(team: Team) -> dict[str, Any]:
    best, best_team = optimum()
    value = true_utility(team)
    return {
        "true_utility": value,
        "optimum": best,
        "regret": best - value,
        "optimal_team": best_team.as_dict(),
    }


class SimWorkflow(Experiment):
    """Options: ``items`` per split and difficulty level (default valid 8, test 20)."""

    name = "sim_workflow"
    kind = "custom"
    option_names = ("valid_items", "test_items")

    def splits(self) -> Splits:
        def items(prefix: str, count: int) -> tuple[str, ...]:
            # difficulties interleaved: every prefix of a split (racing scores prefixes) is balanced
            return tuple(f"d{d}-{prefix}{n}" for n in range(count) for d in range(len(DIFFICULTIES)))

        return Splits(
            train=items("train", 2),
            valid=items("valid", int(self.option("valid_items", 8))),
            test=items("test", int(self.option("test_items", 20))),
        )

    def problem(self) -> Problem:
        return Problem(
            operators=Operators(init=random_team, mutate=mutate, crossover=crossover),
            item_fn=simulate,
            weights=(1.0,),
            objectives=("utility",),
            describe=describe,
            export=export,
            report=report,
            random_init=random_team,
            seed=seed_team,
        )
