"""``OperatorBandit``: learns which operators pay off (UCB1 or Thompson sampling), seeded, and
serialisable for checkpoints.

The reward of one use of an operator is its fitness improvement per unit of cost
(``OperatorBandit.reward``): one unit per call plus one per ``token_unit`` LLM tokens, so an LLM
operator must improve more than a free one to be preferred. A failed child (its fitness is the
failure sentinel, ``evoforum.evolve.individual.FAILED``) earns the worst finite reward seen
(``OperatorBandit.worst``), never -1e300, so one failure does not set ``scale`` to 1e300. All
randomness comes from the ``random.Random`` passed to ``select``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from evoforum.evolve.individual import is_failure

Policy = Literal["ucb1", "thompson"]


@dataclass
class Arm:
    """What is known of one operator: uses, summed reward and summed squared reward."""

    pulls: int = 0
    total: float = 0.0
    squares: float = 0.0

    @property
    def mean(self) -> float:
        return self.total / self.pulls if self.pulls else 0.0

    @property
    def variance(self) -> float:
        if self.pulls < 2:
            return 1.0
        return max(0.0, (self.squares - self.pulls * self.mean**2) / (self.pulls - 1))


@dataclass
class OperatorBandit:
    """A multi-armed bandit over operator names.

    ``ucb1``: untried arms first (in order), then the arm with the best mean plus
    ``c * scale * sqrt(ln N / n)``, where ``scale`` is the largest reward magnitude seen (rewards
    need not lie in [0, 1]). ``thompson``: a Gaussian posterior per arm (prior mean 0, prior
    standard deviation ``prior_sd * scale``; the reward variance is shrunk towards ``scale**2`` so
    a few equal rewards never make an arm certain), one draw each, the best draw wins.
    """

    arms: dict[str, Arm]
    policy: Policy = "ucb1"
    c: float = math.sqrt(2.0)
    prior_sd: float = 1.0
    token_unit: float = 1000.0
    scale: float = field(default=0.0)

    @classmethod
    def over(cls, names: Sequence[str], policy: Policy = "ucb1", **options: Any) -> OperatorBandit:
        return cls({name: Arm() for name in names}, policy, **options)

    def reward(self, improvement: float, tokens: int = 0) -> float:
        """Fitness improvement per unit of cost (one per call plus tokens / ``token_unit``).

        An improvement that is no measurement (the size of the failure fitness, or not finite)
        never reaches the arms: one below zero (a failed child) is the worst finite outcome,
        ``worst(tokens)``; one above (a child of a failed parent) is no improvement.
        """
        if not math.isfinite(improvement) or is_failure((improvement,)):
            return self.worst(tokens) if not improvement > 0 else 0.0
        return improvement / self._cost(tokens)

    def worst(self, tokens: int = 0) -> float:
        """The reward of a child that failed: minus the largest reward magnitude seen (1 before
        any), per unit of cost, so it weighs like the worst measured outcome, not like 1e300."""
        return -(self.scale or 1.0) / self._cost(tokens)

    def _cost(self, tokens: int) -> float:
        return 1.0 + tokens / self.token_unit

    def select(self, rng: random.Random, among: Sequence[str] | None = None) -> str:
        """The arm to use next (only from ``among`` when given)."""
        names = list(among) if among is not None else list(self.arms)
        if not names:
            raise ValueError("the bandit has no arm to choose from")
        for name in names:
            if self.arms.setdefault(name, Arm()).pulls == 0:
                return name
        if self.policy == "ucb1":
            pulls = sum(self.arms[n].pulls for n in names)
            scale = self.scale or 1.0
            bonus = {n: self.c * scale * math.sqrt(math.log(pulls) / self.arms[n].pulls) for n in names}
            return max(names, key=lambda n: self.arms[n].mean + bonus[n])
        draws = {n: self._draw(self.arms[n], rng) for n in names}
        return max(names, key=lambda n: draws[n])

    def _draw(self, arm: Arm, rng: random.Random) -> float:
        scale = self.scale or 1.0
        prior = 1.0 / (self.prior_sd * scale) ** 2
        spread = max(0.0, arm.squares - arm.pulls * arm.mean**2)
        noise = (spread + 2.0 * scale**2) / (arm.pulls + 2.0)
        precision = prior + arm.pulls / noise
        mean = (arm.total / noise) / precision
        return rng.gauss(mean, 1.0 / math.sqrt(precision))

    def update(self, name: str, reward: float) -> None:
        """Record one use of ``name`` that earned ``reward`` (a finite one: see ``reward``)."""
        if not math.isfinite(reward) or is_failure((reward,)):
            raise ValueError(f"a reward must be finite and measured, not {reward!r}: use reward() or worst()")
        arm = self.arms.setdefault(name, Arm())
        arm.pulls += 1
        arm.total += reward
        arm.squares += reward * reward
        self.scale = max(self.scale, abs(reward))

    def state(self) -> dict[str, Any]:
        """Plain JSON data of the bandit (``from_state`` rebuilds it)."""
        return {
            "policy": self.policy,
            "c": self.c,
            "prior_sd": self.prior_sd,
            "token_unit": self.token_unit,
            "scale": self.scale,
            "arms": {n: [a.pulls, a.total, a.squares] for n, a in self.arms.items()},
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> OperatorBandit:
        arms = {name: Arm(int(p), float(t), float(s)) for name, (p, t, s) in state["arms"].items()}
        return cls(
            arms,
            state["policy"],
            float(state["c"]),
            float(state["prior_sd"]),
            float(state["token_unit"]),
            float(state["scale"]),
        )

    def means(self) -> dict[str, float]:
        return {name: arm.mean for name, arm in self.arms.items()}
