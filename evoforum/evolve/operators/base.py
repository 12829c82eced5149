"""The operator protocol and the one place children are checked.

An operator is a function ``(parents, rng, context) -> children`` (plain or ``async``) with a
``name`` and an ``arity`` (how many parents it takes). ``vary`` runs one: it counts the call,
checks every child against the space (validity and constraints), repairs an invalid child when
the context offers a repair, and drops (and counts) what stays invalid. An invalid child is never
returned, so it is never evaluated. An operator that raises an evoforum error (an LLM that
misbehaved, code that does not parse, data pydantic rejects) counts as a failure with no
children; it never crashes. What says the run itself cannot go on is raised: the model is
unavailable (``LLMUnavailable``), the budget is spent, or the context lacks what an operator
needs (``ConfigError``).
A child identical to a parent (or to an earlier child) is dropped and counted as unchanged.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from evoforum.errors import BudgetExceeded, ConfigError, EvoforumError, LLMUnavailable
from evoforum.evolve.operators.context import OperatorContext
from evoforum.genome import Metadata, WorkflowGenome

Children = list[WorkflowGenome]
OperatorFn = Callable[
    [Sequence[WorkflowGenome], random.Random, OperatorContext], "Children | Awaitable[Children]"
]


@dataclass(frozen=True)
class Operator:
    """A named variation operator taking ``arity`` parents."""

    name: str
    arity: int
    fn: OperatorFn
    uses_llm: bool = False

    async def __call__(
        self, parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext
    ) -> Children:
        return await vary(self, parents, rng, context)


def operator(name: str, arity: int = 1, *, uses_llm: bool = False) -> Callable[[OperatorFn], Operator]:
    """Decorator: ``@operator("mut_temperature")`` turns a function into an ``Operator``."""

    def wrap(fn: OperatorFn) -> Operator:
        return Operator(name, arity, fn, uses_llm)

    return wrap


async def vary(
    op: Operator, parents: Sequence[WorkflowGenome], rng: random.Random, context: OperatorContext
) -> Children:
    """The valid children of ``op`` on ``parents``; see the module docstring."""
    counts = context.stats.of(op.name)
    counts.calls += 1
    try:
        produced: Any = op.fn(parents, rng, context)
        if inspect.isawaitable(produced):
            produced = await produced
    except (LLMUnavailable, BudgetExceeded, ConfigError):
        raise
    except (EvoforumError, ValueError, SyntaxError, RecursionError) as error:
        counts.failures += 1
        counts.invalid += 1
        note(counts.problems, f"{type(error).__name__}: {str(error).splitlines()[0][:80]}")
        return []
    children: Children = []
    known = {parent.hash for parent in parents}
    for child in produced:
        if child.hash in known:
            counts.unchanged += 1
            continue
        known.add(child.hash)
        kept = accept(child, context, op.name)
        if kept is not None:
            children.append(_stamp(kept, op.name, parents))
    return children


def accept(child: WorkflowGenome, context: OperatorContext, name: str) -> WorkflowGenome | None:
    """``child`` when it passes the space's checks (perhaps after a repair), else None (counted)."""
    counts = context.stats.of(name)
    problems = _problems(child, context)
    if not problems:
        counts.children += 1
        return child
    if context.repair is not None:
        repaired = context.repair(child)
        if repaired is not None and not _problems(repaired, context):
            counts.children += 1
            counts.repaired += 1
            return repaired
    counts.invalid += 1
    for _, what in problems[:3]:
        note(counts.problems, what.split(":")[0][:60])
    return None


def _problems(child: WorkflowGenome, context: OperatorContext) -> list[tuple[str, str]]:
    try:
        return context.check(child)
    except EvoforumError as error:
        return [("", str(error))]


def note(counts: dict[str, int], what: str) -> None:
    """One more ``what`` in ``counts`` (an operator's problems or targets)."""
    counts[what] = counts.get(what, 0) + 1


def _stamp(child: WorkflowGenome, name: str, parents: Sequence[WorkflowGenome]) -> WorkflowGenome:
    """``child`` with its origin (operator and parent hashes) in the metadata; the hash is unchanged."""
    origin = {**child.metadata.origin, "operator": name, "parents": [p.hash for p in parents]}
    metadata = Metadata(name=child.metadata.name, notes=child.metadata.notes, origin=origin)
    return child.model_copy(update={"metadata": metadata})
