"""``VariationPolicy``: the operators, a bandit choosing among them, and the engine's ``Operators``.

The engine calls ``mutate(genome, rng)`` and ``crossover(a, b, rng)``; the policy lets the bandit
pick an operator of that arity and runs it through ``vary`` (so only valid children come back).
An operator that produced nothing valid (a rewrite the model garbled, a transition mutation of a
plain DAG) gives way to another one not yet tried; only when none makes a child does the parent
come back unchanged (an operator with one child, such as LMX, in the crossover slot gives that
child and the second parent unchanged). Each child names its operator
in ``metadata.origin["operator"]``. Once the engine knows a child's fitness, ``observe`` pays the
bandit (improvement per cost; a failed child the worst finite reward, a child of a failed parent
nothing) and stores the edit in the edit memory (not when either failed: no delta was measured).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evoforum.errors import LLMError, Timeout
from evoforum.evolve.individual import Individual, is_failure
from evoforum.evolve.operators.bandit import OperatorBandit
from evoforum.evolve.operators.base import Operator
from evoforum.evolve.operators.coevolve import CoEvolution
from evoforum.evolve.operators.context import OperatorContext
from evoforum.evolve.variation import Operators
from evoforum.genome import WorkflowGenome

log = logging.getLogger(__name__)


@dataclass
class VariationPolicy:
    """Operators chosen by a bandit; see the module docstring."""

    operators: Sequence[Operator]
    context: OperatorContext
    bandit: OperatorBandit | None = None
    weights: Mapping[str, float] | None = None
    """Fixed chances per operator name instead of a bandit (operators not named never run)."""
    pending: dict[str, tuple[str, int]] = field(default_factory=dict)
    coevolution: CoEvolution | None = None
    """Populations of operator genomes the LLM operators draw from and that evolve with the run."""

    def __post_init__(self) -> None:
        if self.weights is not None:
            self.operators = [op for op in self.operators if self.weights.get(op.name, 0.0) > 0]
        elif self.bandit is None:
            self.bandit = OperatorBandit.over([op.name for op in self.operators])

    def _select(self, rng: random.Random, names: list[str]) -> str:
        if self.weights is not None:
            return rng.choices(names, weights=[self.weights[name] for name in names])[0]
        assert self.bandit is not None
        return self.bandit.select(rng, names)

    def _of_arity(self, arity: int) -> dict[str, Operator]:
        return {op.name: op for op in self.operators if op.arity == arity}

    async def apply(self, parents: Sequence[WorkflowGenome], rng: random.Random) -> list[WorkflowGenome]:
        """Children of the first operator taking ``len(parents)`` parents that makes any: the
        bandit (or the weights) chooses among those not tried yet for this child."""
        ops = self._of_arity(len(parents))
        while ops:
            name = self._select(rng, list(ops))
            children = await self._children(ops.pop(name), parents, rng)
            if children:
                return children
        return []

    async def _children(
        self, op: Operator, parents: Sequence[WorkflowGenome], rng: random.Random
    ) -> list[WorkflowGenome]:
        """The valid children of ``op``; what it spent is kept for the bandit's reward."""
        name = op.name
        counts = self.context.stats.of(name)
        tokens_before = counts.tokens
        if self.coevolution is None:
            children = await op(parents, rng, self.context)
        else:
            context, drawn = await self.coevolution.draw(name)
            children = await op(parents, rng, context)
            await self.coevolution.made(drawn, children)
        spent = counts.tokens - tokens_before
        if not children and self.bandit is not None:
            self.bandit.update(name, self.bandit.reward(0.0, spent))
        for child in children:
            self.pending[child.hash] = (name, spent // max(1, len(children)))
        return children

    async def mutate(self, genome: WorkflowGenome, rng: random.Random) -> WorkflowGenome:
        children = await self.apply([genome], rng)
        return children[0] if children else genome

    async def crossover(
        self, a: WorkflowGenome, b: WorkflowGenome, rng: random.Random
    ) -> tuple[WorkflowGenome, WorkflowGenome]:
        children = await self.apply([a, b], rng)
        if not children:
            return a, b
        return children[0], children[1] if len(children) > 1 else b

    def engine_operators(self, init: Callable[[random.Random], Any]) -> Operators:
        """The engine's ``Operators`` running this policy; each child is named by its operator."""
        return Operators(init=init, mutate=self.mutate, crossover=self.crossover, label=operator_of)

    async def observe_individual(self, child: Individual, parents: Sequence[tuple[float, ...]]) -> None:
        """The engine's observer: ``observe`` with the child's and its best parent's quality."""
        if parents and child.fitness.valid:
            await self.observe(child.genome, child.fitness.values[0], max(values[0] for values in parents))

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps: the bandit's arms, the children still awaiting their fitness,
        the co-evolving operator genomes, the edit memory and the operators' counts."""
        bandit = self.bandit.state() if self.bandit is not None else None
        coevolution = self.coevolution.state() if self.coevolution is not None else None
        memory = self.context.memory.state() if self.context.memory is not None else None
        return {
            "bandit": bandit,
            "pending": dict(self.pending),
            "coevolution": coevolution,
            "memory": memory,
            "stats": self.context.stats.state(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        if state["bandit"] is not None:
            self.bandit = OperatorBandit.from_state(state["bandit"])
        self.pending = {key: (name, int(tokens)) for key, (name, tokens) in state["pending"].items()}
        if self.coevolution is not None and state.get("coevolution") is not None:
            self.coevolution.restore(state["coevolution"])
        if self.context.memory is not None:  # a checkpoint without one: an empty memory
            self.context.memory.restore(state.get("memory") or {"edits": []})
        self.context.stats.restore(state.get("stats") or {})  # older checkpoints: counted anew

    async def observe(self, child: WorkflowGenome, child_score: float, parent_score: float) -> None:
        """Pay the bandit for ``child``, remember its edit (when an LLM operator made one) and
        credit the operator genome that made it."""
        if self.coevolution is not None:
            await self.coevolution.observe(child, child_score, parent_score)
        found = self.pending.pop(child.hash, None)
        if found is None:
            return
        name, tokens = found
        if self.bandit is not None:
            if is_failure((child_score,)):
                reward = self.bandit.worst(tokens)
            elif is_failure((parent_score,)):  # nothing measured to improve on
                reward = self.bandit.reward(0.0, tokens)
            else:
                reward = self.bandit.reward(child_score - parent_score, tokens)
            self.bandit.update(name, reward)
        if self.context.memory is not None:
            try:
                await self.context.memory.record_child(child, parent_score, child_score)
            except (LLMError, Timeout) as error:  # the memory only helps: the run goes on without
                log.warning("edit of %s not remembered: %s", child.hash[:12], error)


def operator_of(genome: Any) -> str | None:
    """The operator a child genome records in ``metadata.origin`` (``vary`` stamps it)."""
    metadata = getattr(genome, "metadata", None)
    origin = getattr(metadata, "origin", None)
    name = origin.get("operator") if isinstance(origin, dict) else None
    return str(name) if name else None
