"""Variation of workflow genomes: where the first genomes come from, and which operators of
``evoforum.evolve.operators`` breed the rest.

``operators.weights`` weighs operator groups (``mutate``, ``crossover``, ``gp_code``, ``lmx``,
``rewrite``); with ``operators.bandit`` a bandit learns which operators pay off per unit of cost
instead, starting from the groups with a weight above zero. Without a model the LLM groups are
left out. With ``operators.edit_memory`` the LLM operators are shown past edits like the one at
hand, with the fitness change each made. With ``operators.coevolve`` the LLM operators draw their
operator genomes from small populations that evolve with the run (``CoevolvingOperators``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from evoforum.config import ExperimentConfig
from evoforum.errors import ConfigError, did_you_mean
from evoforum.evolve import operators as library
from evoforum.evolve.lineage import LineageSink
from evoforum.evolve.operators import CoevolvingOperators
from evoforum.genome import Metadata, WorkflowGenome
from evoforum.llm import LLMClient
from evoforum.run._edit_memory import EditStore

GROUPS: dict[str, list[library.Operator]] = {
    "mutate": [op for op in library.STRUCTURAL if op.arity == 1],
    "crossover": [op for op in library.STRUCTURAL if op.arity == 2],
    "gp_code": list(library.CODE_GP),
    "lmx": [library.lmx_module, library.lmx_code],
    "rewrite": [library.llm_rewrite],
}
LLM_GROUPS = ("lmx", "rewrite")
KINDS = {op.name: group for group in LLM_GROUPS for op in GROUPS[group]}
"""The kind of operator genome each LLM operator runs."""


class Seeding:
    """The first genomes: the experiment's seed workflows in turn, then random ones of the space."""

    def __init__(self, space: Any, seeds: Sequence[int] | None) -> None:
        self.space = space
        every = space.seeds()
        self.seeds: list[WorkflowGenome] = [every[i] for i in seeds] if seeds is not None else list(every)
        self._made = 0

    def init(self, rng: random.Random) -> WorkflowGenome:
        index, self._made = self._made, self._made + 1
        return self.seeds[index] if index < len(self.seeds) else self.random_genome(rng)

    def random_genome(self, rng: random.Random) -> WorkflowGenome:
        genome: WorkflowGenome = self.space.random_genome(np.random.default_rng(rng.getrandbits(64)))
        origin = {**genome.metadata.origin, "operator": "random"}
        metadata = Metadata(name=genome.metadata.name, notes=genome.metadata.notes, origin=origin)
        return genome.model_copy(update={"metadata": metadata})


async def variation(
    config: ExperimentConfig,
    space: Any,
    llm: LLMClient | None,
    model: str | None,
    sinks: Sequence[LineageSink] | dict[str, Sequence[LineageSink]] = (),
    edit_store: EditStore | None = None,
) -> library.VariationPolicy:
    """The operators the config asks for, chosen by weight or by a bandit; with
    ``operators.coevolve``, their operator genomes co-evolve in pools of ``coevolve_pool``,
    replaced every ``coevolve_every`` credits (lineage to ``sinks``: all kinds', or per kind).
    The edit memory lives where ``edit_store`` says (in the process when None)."""
    weights = config.operators.weights
    for group in weights:
        if group not in GROUPS:
            raise ConfigError(
                f"operators.weights.{group}: unknown operator group{did_you_mean(group, list(GROUPS))}"
            )
    chosen = {
        op.name: (op, weight)
        for group, weight in weights.items()
        if weight > 0 and (llm is not None or group not in LLM_GROUPS)
        for op in GROUPS[group]
    }
    if not chosen:
        raise ConfigError("operators.weights: no operator is left (give one a weight above 0)")
    uses_llm = any(op.uses_llm for op, _ in chosen.values())
    memory = (
        await _edit_memory(llm, edit_store)
        if config.operators.edit_memory and llm is not None and uses_llm
        else None
    )
    context = library.OperatorContext(space=space, llm=llm, model=model or "local", memory=memory)
    bandit = library.OperatorBandit.over(list(chosen)) if config.operators.bandit else None
    fixed = None if bandit is not None else {name: weight for name, (_, weight) in chosen.items()}
    kinds = {name: KINDS[name] for name in chosen if name in KINDS}
    coevolution = (
        CoevolvingOperators(
            context,
            kinds,
            seed=config.seed,
            size=config.operators.coevolve_pool,
            every=config.operators.coevolve_every,
            sinks=sinks,
        )
        if config.operators.coevolve and kinds
        else None
    )
    return library.VariationPolicy(
        [op for op, _ in chosen.values()], context, bandit=bandit, weights=fixed, coevolution=coevolution
    )


async def _edit_memory(llm: LLMClient, where: EditStore | None = None) -> library.EditMemory:
    """Past edits, kept by meaning (embeddings of the model's server) where ``where`` (an
    ``EditStore``) says: the run's own pgvector table, or in the process when it is None. The
    edits are checkpointed with the policy, so a resumed run remembers exactly what it had."""
    from evoforum.run._edit_memory import open_edit_memory

    return await open_edit_memory(llm, where)
