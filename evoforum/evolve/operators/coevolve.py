"""``CoEvolution``: operator genomes evolving alongside a run (Promptbreeder-style self-modification).

Each LLM operator kind (``"lmx"``, ``"rewrite"``) keeps ``size`` operator genomes: the default one
and mutations of it. Every call of an LLM operator draws one of them (from the pool's own seeded
generator); once the engine knows the fitness of the child it made, the improvement over its
parent is credited to that operator genome. Every ``every`` credited trials of a kind, the worst
operator genome (by mean improvement) is replaced by a mutation of the best one, made by the
machinery that mutates workflow genomes (``mutate``).

Lineage goes to ``sinks`` (one list for every kind, or a list per kind): a record for each new
operator genome (operator ``coevolve:<meta-operator>``, generation = the replacement round,
transcripts = the message-tree hashes of the model calls its mutation made, noted by
``Transcribed`` in the model client's stack), and a further record of the same genome each time
it is credited (its mean improvement so far as the value, its credited children as items), so a
tracker can follow its fitness.

Away from a run, ``step`` evolves operator genomes of one kind on a fitness function (mu + lambda):
each is scored by the improvement its children show over their parents.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from evoforum.errors import ConfigError
from evoforum.evolve.individual import is_failure
from evoforum.evolve.lineage import LineageRecord, LineageSink
from evoforum.evolve.operators import _meta
from evoforum.evolve.operators.base import Operator
from evoforum.evolve.operators.context import OperatorContext, OperatorStats
from evoforum.evolve.operators.operator_genomes import default_genomes, noting_exchanges
from evoforum.genome import WorkflowGenome

COEVOLVE = "coevolve"


@dataclass(frozen=True)
class OperatorCandidate:
    """An operator genome with the improvements credited to it and where it came from."""

    genome: WorkflowGenome
    parents: tuple[str, ...] = ()
    operator: str = "seed"
    generation: int = 0
    gain: float = 0.0
    """The summed improvement of its children over their parents."""
    trials: int = 0
    invalid_rate: float = 0.0
    transcripts: tuple[str, ...] = ()

    @property
    def score(self) -> float | None:
        """The mean improvement of its children (None before its first trial)."""
        return self.gain / self.trials if self.trials else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "genome_hash": self.genome.hash,
            "score": self.score,
            "trials": self.trials,
            "parent": self.parents[0] if self.parents else None,
            "operator": self.operator,
            "generation": self.generation,
            "transcripts": list(self.transcripts),
        }


def lineage_records(
    candidates: Sequence[OperatorCandidate], start: int, island: int = 0
) -> list[LineageRecord]:
    """Lineage records of operator candidates (for any ``LineageSink``), numbered from ``start``."""
    return [
        LineageRecord(
            index=start + i,
            genome_hash=c.genome.hash,
            parents=c.parents,
            operator=f"{COEVOLVE}:{c.operator}",
            generation=c.generation,
            island=island,
            values=(c.score,) if c.score is not None else (),
            items=c.trials,
            transcripts=c.transcripts,
        )
        for i, c in enumerate(candidates)
    ]


@dataclass
class CoEvolution:
    """Operator genome populations per kind; see the module docstring. ``kinds`` maps an operator
    name (``"lmx"``, ``"llm_rewrite"``…) to the kind of operator genome it runs."""

    context: OperatorContext
    kinds: Mapping[str, str] = field(default_factory=dict)
    seed: int = 0
    size: int = 3
    every: int = 6
    sinks: Sequence[LineageSink] | Mapping[str, Sequence[LineageSink]] = ()
    """Where lineage records go: these sinks for every kind, or per kind the sinks named."""
    meta_operators: Sequence[Operator] = field(default_factory=_meta.meta_operators)
    """The operators that mutate operator genomes."""
    members: dict[str, list[OperatorCandidate]] = field(default_factory=dict)
    pending: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Child hash -> (kind, hash of the operator genome that made it)."""
    counts: dict[str, int] = field(default_factory=dict)
    rounds: int = 0
    index: int = 0

    def __post_init__(self) -> None:
        if self.size < 2:
            raise ConfigError(f"a pool of operator genomes needs at least 2 of them, got {self.size}")
        if self.every < 1:
            raise ConfigError(f"operator genomes are replaced every 1 or more credits, got {self.every}")
        self.rng = random.Random(self.seed)
        self.known: dict[str, WorkflowGenome] = {}
        """Every operator genome this pool held, by hash (also those replaced since)."""
        self._meta_context = replace(self.context, stats=OperatorStats())  # meta calls stay out of the counts

    async def mutate(self, genome: WorkflowGenome, rng: random.Random) -> tuple[WorkflowGenome, str] | None:
        """One mutated operator genome (checked against ``OPERATOR_SPACE``) and the meta-operator
        that made it; None when the drawn meta-operator produced nothing valid."""
        return await _meta.mutate(self.meta_operators, self._meta_context, genome, rng)

    async def _population(self, kind: str) -> list[OperatorCandidate]:
        found = self.members.get(kind)
        if found is None:
            base = OperatorCandidate(default_genomes()[kind])
            found = self.members[kind] = [base]
            for _ in range(3 * self.size):
                if len(found) >= self.size:
                    break
                child = await self._mutant(base, self.rounds, self.rng)
                if child is not None and all(m.genome.hash != child.genome.hash for m in found):
                    found.append(child)
            self._emit(kind, found)
        return found

    async def _mutant(
        self, parent: OperatorCandidate, generation: int, rng: random.Random
    ) -> OperatorCandidate | None:
        with noting_exchanges() as transcripts:
            made = await self.mutate(parent.genome, rng)
        if made is None:
            return None
        genome, meta = made
        return OperatorCandidate(
            genome,
            parents=(parent.genome.hash,),
            operator=meta,
            generation=generation,
            transcripts=tuple(transcripts),
        )

    def genome(self, genome_hash: str) -> WorkflowGenome | None:
        """An operator genome this pool held (for trackers: its JSON, its parent's)."""
        return self.known.get(genome_hash)

    async def draw(self, name: str) -> tuple[OperatorContext, tuple[str, str] | None]:
        """The context operator ``name`` runs with, holding one drawn operator genome of its kind,
        and (kind, that genome's hash); the context itself for operators without a genome."""
        kind = self.kinds.get(name)
        if kind is None:
            return self.context, None
        population = await self._population(kind)
        drawn = population[self.rng.randrange(len(population))].genome
        genomes = {**self.context.operator_genomes, kind: drawn}
        return replace(self.context, operator_genomes=genomes), (kind, drawn.hash)

    async def made(self, drawn: tuple[str, str] | None, children: Sequence[WorkflowGenome]) -> None:
        """Remember which operator genome made ``children``; none made: no improvement for it."""
        if drawn is None:
            return
        if not children:
            await self._credit(*drawn, 0.0)
        for child in children:
            self.pending[child.hash] = drawn

    async def observe(self, child: WorkflowGenome, child_score: float, parent_score: float) -> None:
        """Credit the improvement of ``child`` to the operator genome that made it."""
        found = self.pending.pop(child.hash, None)
        if found is None:
            return
        known = not is_failure((child_score,)) and not is_failure((parent_score,))
        await self._credit(*found, child_score - parent_score if known else 0.0)

    async def _credit(self, kind: str, genome_hash: str, gain: float) -> None:
        population = self.members.get(kind, [])
        for i, member in enumerate(population):
            if member.genome.hash == genome_hash:
                population[i] = replace(member, gain=member.gain + gain, trials=member.trials + 1)
                self._emit(kind, [population[i]])
                break
        else:
            return  # an operator genome replaced meanwhile
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.counts[kind] % self.every == 0:
            await self.replace_worst(kind)

    async def replace_worst(self, kind: str) -> OperatorCandidate | None:
        """Replace the worst tried operator genome of ``kind`` by a mutation of the best one (the
        replacement; None when fewer than two were tried or the mutation gave nothing valid)."""
        tried = [m for m in self.members.get(kind, []) if m.trials]
        if len(tried) < 2:
            return None
        best = max(tried, key=lambda m: m.score or 0.0)
        worst = min(tried, key=lambda m: m.score or 0.0)
        if best is worst:
            return None
        self.rounds += 1
        child = await self._mutant(best, self.rounds, self.rng)
        if child is None:
            return None
        population = self.members[kind]
        population[population.index(worst)] = child
        self._emit(kind, [child])
        return child

    def _emit(self, kind: str, members: Sequence[OperatorCandidate]) -> None:
        for member in members:
            self.known.setdefault(member.genome.hash, member.genome)
        records = lineage_records(members, start=self.index)
        self.index += len(records)
        sinks = self.sinks.get(kind, ()) if isinstance(self.sinks, Mapping) else self.sinks
        for sink in sinks:
            sink.emit(records)

    def summary(self) -> dict[str, list[dict[str, Any]]]:
        """Per kind, every current operator genome with its score, trials and parent."""
        return {kind: [m.as_dict() for m in members] for kind, members in sorted(self.members.items())}

    def state(self) -> dict[str, Any]:
        """Plain data for a checkpoint: the populations, credits, pending children and generator."""
        members = {
            kind: [{**m.as_dict(), "genome": m.genome.model_dump_json(), "gain": m.gain} for m in found]
            for kind, found in self.members.items()
        }
        return {
            "members": members,
            "pending": dict(self.pending),
            "counts": dict(self.counts),
            "rounds": self.rounds,
            "index": self.index,
            "rng": self.rng.getstate(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.members = {
            kind: [
                OperatorCandidate(
                    WorkflowGenome.load(m["genome"]),
                    parents=(m["parent"],) if m["parent"] else (),
                    operator=m["operator"],
                    generation=m["generation"],
                    gain=float(m["gain"]),
                    trials=int(m["trials"]),
                    transcripts=tuple(m.get("transcripts", ())),
                )
                for m in found
            ]
            for kind, found in state["members"].items()
        }
        self.known.update((m.genome.hash, m.genome) for found in self.members.values() for m in found)
        self.pending = {key: (kind, genome) for key, (kind, genome) in state["pending"].items()}
        self.counts = dict(state["counts"])
        self.rounds, self.index = int(state["rounds"]), int(state["index"])
        self.rng.setstate(state["rng"])

    async def score(
        self,
        kind: str,
        genome: WorkflowGenome,
        pool: Sequence[WorkflowGenome],
        fitness: _meta.Fitness,
        rng: random.Random,
        trials: int = 4,
    ) -> OperatorCandidate:
        """``genome`` (of ``kind``) scored by the mean improvement of its operator's children over
        their best parent on ``fitness``, over ``trials`` calls on parents drawn from ``pool``."""
        gain, rate = await _meta.improvement(self.context, kind, genome, pool, fitness, trials, rng)
        return OperatorCandidate(genome, gain=gain, trials=trials, invalid_rate=rate)

    async def step(
        self,
        kind: str,
        population: Sequence[OperatorCandidate],
        pool: Sequence[WorkflowGenome],
        fitness: _meta.Fitness,
        rng: random.Random,
        generation: int,
        trials: int = 4,
    ) -> tuple[list[OperatorCandidate], list[OperatorCandidate]]:
        """One generation away from a run: score the unscored, mutate each member once, score the
        children and keep the best ``len(population)``. Returns (survivors, the new children)."""
        scored = []
        for c in population:
            if c.score is None:
                found = await self.score(kind, c.genome, pool, fitness, rng, trials)
                c = replace(c, gain=found.gain, trials=found.trials, invalid_rate=found.invalid_rate)
            scored.append(c)
        children = []
        for member in scored:
            child = await self._mutant(member, generation, rng)
            if child is None:
                continue
            found = await self.score(kind, child.genome, pool, fitness, rng, trials)
            children.append(
                replace(child, gain=found.gain, trials=found.trials, invalid_rate=found.invalid_rate)
            )
        ranked = sorted([*scored, *children], key=lambda c: -(c.score or 0.0))
        return ranked[: len(population)], children
