"""What a run runs: the experiment's side (``design``) and the complete, frozen ``Plan``.

``design(config)`` reads the experiment (and, for workflow experiments, the search space) and
says which services the run needs, before any is opened. ``plan(design, resources, ...)`` then
builds everything that needs them, whole: the genome operators (for workflow experiments the
operators of ``evoforum.evolve.operators`` that ``operators.weights`` chooses, chosen by weight or
by a bandit; without a model the LLM groups are left out), the item function and the
``WorkflowScorer`` behind it. The LLM operators ask the operators' client and model
(``Resources.operator_llm``: the workers' unless ``operators.llm`` names another). With
``operators.edit_memory`` the LLM operators are shown past edits like the one at hand, embedded by
the workers' model and kept in a pgvector table of the run's own when the run has PostgreSQL
(``EditStore``). With ``operators.coevolve`` the LLM operators draw their operator genomes from
small populations that evolve with the run (``CoEvolution``); their lineage goes to
``coevolution.jsonl`` and, as runs of population ``operators``, to the run's MLflow tracker.

A ``StopFlag`` says why the run stops early (the LLM budget, the wall clock); the scorer and the
progress (``evoforum.run.progress``) set it, the engine asks it before each generation.

The edit memory's table is ``edit_memory_`` and a hash of the host and the output folder's
absolute path, so two runs never share one and a resumed run finds its own (an earlier run in the
same folder leaves rows that the memory deletes before its first use). The table has no
approximate index: a run remembers at most some thousands of edits, an exact scan over them takes
milliseconds, and exact answers do not depend on how an HNSW graph happened to be built, so a
resumed run and an uninterrupted one see the same examples. Given a ``Database`` (a pool its owner
closes), the memory uses it; without one, each use opens a connection and closes it again.
Embeddings are not checkpointed: the edits missing from the store on resume (all of them with the
in-process store) are embedded again, which the record answers (``Cached``; a replay's
``Recording``) without asking the model.
"""

from __future__ import annotations

import random
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from evoforum.config import ExperimentConfig
from evoforum.errors import ConfigError, ServiceUnavailable, did_you_mean
from evoforum.evolve import JsonlLineage, Operators
from evoforum.evolve import operators as library
from evoforum.evolve.lineage import LineageSink
from evoforum.evolve.operators import CoEvolution, EditMemory
from evoforum.evolve.operators.feedback import Feedback
from evoforum.evolve.operators.llm_ops import llm_rewrite, lmx_code, lmx_module
from evoforum.evolve.operators.operator_genomes import Transcribed, default_genomes
from evoforum.genome import Metadata, WorkflowGenome
from evoforum.genome.library import library_files
from evoforum.hashing import digest
from evoforum.llm import LLMClient
from evoforum.memory import Database, Embedder, MemoryVectorStore, PgVectorStore, SemanticMemory
from evoforum.run.folder import RunFolder
from evoforum.run.llm import Sampling
from evoforum.run.resources import Resources
from evoforum.run.scoring import MEASURED, WorkflowScorer
from evoforum.sandbox import Sandbox, SandboxLimits

OPERATORS = "operators"
"""The MLflow population (``evoforum.population`` tag) of the co-evolved operator genomes."""
LLM_BUDGET = "llm_budget"
"""The stop reason of a run whose model call did not fit its LLM budget."""
EDIT_MEMORY_PREFIX = "edit_memory_"


class StopFlag:
    """Why the run stops before its last generation, once something said so (the first reason
    wins): ``llm_budget``, ``llm_tokens``, ``cost_usd``, ``wall_s``. Calling it gives the reason."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def set(self, reason: str) -> None:
        self.reason = self.reason or reason

    def __call__(self) -> str | None:
        return self.reason


@dataclass(frozen=True)
class Design:
    """The experiment's side of a run, known from the config alone (no service is open yet)."""

    config: ExperimentConfig
    experiment: Any
    kind: str
    splits: Any
    describe: Callable[[Any], str]
    """A genome as JSON text (for ``genomes.jsonl`` and MLflow)."""
    export: Callable[[Any], str]
    """A genome as Python code (``winner.py``)."""
    weights: tuple[float, ...] = (1.0,)
    objectives: tuple[str, ...] = ("quality",)
    report: Callable[[Any], dict[str, Any]] = field(default=lambda genome: {})
    baselines: dict[str, Any] = field(default_factory=dict)
    space: Any = None
    problem: Any = None
    """A ``custom`` experiment's problem (its operators and item function)."""
    needs_store: bool = False
    needs_llm: bool = False


@dataclass(frozen=True)
class Plan:
    """Everything a run needs to start the engine, built whole by ``plan``."""

    design: Design
    operators: Operators
    item_fn: Callable[..., Any]
    random_init: Callable[[random.Random], Any]
    seed: Callable[[random.Random], Any] | None = None
    scorer: WorkflowScorer | None = None
    """The driver's workflow scorer (a workflow experiment's ``item_fn`` is its ``score``)."""
    observers: tuple[Any, ...] = ()
    on_known: tuple[Any, ...] = ()
    """Told what selection knows after each generation (the LLM operators' ``Feedback``)."""
    stateful: tuple[Any, ...] = ()
    operator_stats: Callable[[], dict[str, Any]] = dict
    coevolution: Callable[[], dict[str, Any]] | None = None
    """The co-evolved operator genomes, per kind (with ``operators.coevolve``)."""

    def seed_genome(self) -> Any:
        """The seed workflow that ``best_of_n`` samples."""
        return (self.seed or self.operators.init)(random.Random(self.design.config.seed))


def design(config: ExperimentConfig) -> Design:
    """The experiment and search space of ``config``; ``ConfigError`` for what does not fit."""
    import experiments

    experiment = experiments.get(config.experiment.name, config.experiment.options, config.seed)
    common: dict[str, Any] = {
        "config": config,
        "experiment": experiment,
        "kind": experiment.kind,
        "splits": experiment.splits(),
    }
    if experiment.kind == "custom":
        if config.algorithm.objectives != ("quality",):
            raise ConfigError(f"algorithm.objectives: experiment {experiment.name!r} has its own objectives")
        problem = experiment.problem()
        return Design(
            **common,
            describe=problem.describe,
            export=problem.export,
            weights=problem.weights,
            objectives=problem.objectives,
            report=problem.report,
            problem=problem,
        )
    import search_spaces
    from evoforum.codegen import export

    space = search_spaces.get(  # few-shot: train items
        config.search_space.name, experiment.examples() or None, config.search_space.options
    )
    measured = config.algorithm.objectives[1:]
    weights = config.operators.weights
    llm_operators = any(weights.get(name, 0) > 0 for name in ("rewrite", "lmx"))
    return Design(
        **common,
        describe=_genome_json,
        export=export,
        weights=(1.0, *(-1.0 for _ in measured)),
        objectives=("quality", *(MEASURED[o] for o in measured)),
        baselines=experiment.baselines() if config.experiment.baselines else {},
        space=space,
        needs_store=True,
        needs_llm=experiment.uses_llm or llm_operators,
    )


def _genome_json(genome: Any) -> str:
    text: str = genome.model_dump_json()
    return text


async def plan(
    design: Design,
    resources: Resources,
    *,
    folder: RunFolder,
    stack: AsyncExitStack,
    tracker: Any,
    stop: StopFlag,
) -> Plan:
    """The complete plan of ``design`` on the run's ``resources``: files it opens are closed by
    ``stack``; ``tracker`` (an ``MlflowLineage``) gets the co-evolved operator genomes' lineage;
    a model call that does not fit the LLM budget sets ``stop``."""
    if design.kind != "workflow":
        problem = design.problem
        return Plan(
            design,
            problem.operators,
            problem.item_fn,
            problem.random_init or problem.operators.init,
            problem.seed,
        )
    config = design.config
    seeding = Seeding(design.space, design.experiment.seed_indices())
    # Transcribed below Sampling: it sees each request as it is recorded
    operator_llm = resources.operator_llm
    llm = Sampling(Transcribed(operator_llm), seed=config.seed, max_tokens=384) if operator_llm else None
    pools: list[Any] = []
    sinks = _coevolution_sinks(folder, stack, tracker, pools) if config.operators.coevolve else {}
    edit_store = await _edit_store(config, resources, folder, stack)
    feedback = Feedback()
    policy = await variation(
        config,
        design.space,
        llm,
        resources.operator_model,
        sinks,
        edit_store,
        feedback,
        embedder=resources.llm,
    )
    if policy.coevolution is not None:
        pools.append(policy.coevolution)
    evaluation = config.evaluation
    limits = SandboxLimits(wall_s=min(30.0, evaluation.timeout_s), memory_mb=max(256, evaluation.memory_mb))
    scorer = WorkflowScorer(
        design.experiment,
        llm=resources.llm,
        forum=resources.forum,
        sandbox=Sandbox(limits, files=library_files()),
        model=resources.model,
        timeout_s=evaluation.timeout_s,
        objectives=config.algorithm.objectives[1:],
        on_budget=partial(stop.set, LLM_BUDGET),
        bus=resources.bus,
        memory=resources.memory,
    )
    return Plan(
        design,
        operators=policy.engine_operators(seeding.init),
        item_fn=scorer.score,
        random_init=seeding.random_genome,
        scorer=scorer,
        observers=(policy.observe_individual,),
        on_known=(feedback.update,),
        stateful=(policy,),
        operator_stats=policy.context.stats.as_dict,
        coevolution=policy.coevolution.summary if policy.coevolution is not None else None,
    )


async def _edit_store(
    config: ExperimentConfig, resources: Resources, folder: RunFolder, stack: AsyncExitStack
) -> EditStore | None:
    """The run's own pgvector table for its edit memory (through a small pool closed with
    ``stack``), when the run has PostgreSQL and LLM operators that remember edits."""
    postgres = resources.postgres_url
    if not (config.operators.edit_memory and resources.llm is not None and postgres):
        return None
    db = await Database.connect(postgres, max_size=2)
    stack.push_async_callback(db.close)
    return EditStore.of_run(folder.path, postgres, db)


def _coevolution_sinks(
    folder: RunFolder, stack: AsyncExitStack, tracker: Any, pools: list[Any]
) -> dict[str, Sequence[Any]]:
    """Per operator kind: ``coevolution.jsonl`` (shared) and, with a tracker, its MLflow
    population; ``pools`` will hold the ``CoEvolution`` whose genomes are described."""
    from evoforum.tracking import CandidateFiles

    jsonl = JsonlLineage(folder / folder.COEVOLUTION)
    stack.callback(jsonl.close)

    def describe(genome_hash: str) -> Any:
        genome = pools[0].genome(genome_hash) if pools else None
        return CandidateFiles(genome_json=genome.model_dump_json()) if genome is not None else None

    sinks: dict[str, Sequence[Any]] = {}
    for kind in default_genomes():
        population = (
            [
                tracker.population(
                    OPERATORS,
                    tags={"evoforum.operator_kind": kind},
                    describe=describe,
                    metrics=("improvement",),
                    count="trials",
                )
            ]
            if tracker is not None
            else []
        )
        sinks[kind] = [jsonl, *population]
    return sinks


GROUPS: dict[str, list[library.Operator]] = {
    "mutate": [op for op in library.STRUCTURAL if op.arity == 1],
    "crossover": [op for op in library.STRUCTURAL if op.arity == 2],
    "gp_code": list(library.CODE_GP),
    "lmx": [lmx_module, lmx_code],
    "rewrite": [llm_rewrite],
}
LLM_GROUPS = ("lmx", "rewrite")


def space_groups(space: Any) -> dict[str, list[library.Operator]]:
    """``GROUPS`` with the space's own operators (``SearchSpace.operators``) among the mutations
    and crossovers."""
    own = space.operators() if hasattr(space, "operators") else ()
    groups = {group: list(ops) for group, ops in GROUPS.items()}
    groups["mutate"] += [op for op in own if op.arity == 1]
    groups["crossover"] += [op for op in own if op.arity == 2]
    return groups


KINDS = {op.name: group for group in LLM_GROUPS for op in GROUPS[group]}
"""The kind of operator genome each LLM operator runs."""


def _weighed(
    weights: dict[str, float], groups: dict[str, list[library.Operator]], with_llm: bool
) -> dict[str, tuple[library.Operator, float]]:
    """The operators ``weights`` names, with their weights: a group's weight is each of its
    operators'; an operator named on its own has its own (over its group's). Those at 0 are left
    out, and so are the LLM groups' without a model (``with_llm``)."""
    by_name = {op.name: op for ops in groups.values() for op in ops}
    for key in weights:
        if key not in groups and key not in by_name:
            raise ConfigError(
                f"operators.weights.{key}: unknown operator group or operator"
                f"{did_you_mean(key, [*groups, *by_name])}; groups: {', '.join(groups)}"
            )
    chosen = {op.name: (op, w) for key, w in weights.items() if key in groups for op in groups[key]}
    chosen.update((key, (by_name[key], w)) for key, w in weights.items() if key in by_name)
    llm_ops = {op.name for group in LLM_GROUPS for op in groups[group]}
    return {name: (op, w) for name, (op, w) in chosen.items() if w > 0 and (with_llm or name not in llm_ops)}


class Seeding:
    """The first genomes: the experiment's seed workflows in turn, then random ones of the space."""

    def __init__(self, space: Any, seeds: Sequence[int] | None) -> None:
        self.space = space
        every = space.seeds()
        self.seeds: list[WorkflowGenome] = [every[i] for i in seeds] if seeds is not None else list(every)
        self._made = 0

    def init(self, rng: random.Random) -> WorkflowGenome:
        """The next seed, else a random genome whose origin says ``init`` as its lineage record does
        (``{"operator": "init", "init": "random"}``)."""
        index, self._made = self._made, self._made + 1
        if index < len(self.seeds):
            return self.seeds[index]
        return self.random_genome(rng, {"operator": "init", "init": "random"})

    def random_genome(self, rng: random.Random, stamp: dict[str, str] | None = None) -> WorkflowGenome:
        """A random genome of the space, its origin stamped ``stamp`` (``{"operator": "random"}``,
        the operator random search records)."""
        genome: WorkflowGenome = self.space.random_genome(np.random.default_rng(rng.getrandbits(64)))
        origin = {**genome.metadata.origin, **(stamp or {"operator": "random"})}
        metadata = Metadata(name=genome.metadata.name, notes=genome.metadata.notes, origin=origin)
        return genome.model_copy(update={"metadata": metadata})


async def variation(
    config: ExperimentConfig,
    space: Any,
    llm: LLMClient | None,
    model: str | None,
    sinks: Sequence[LineageSink] | dict[str, Sequence[LineageSink]] = (),
    edit_store: EditStore | None = None,
    feedback: Feedback | None = None,
    *,
    embedder: Embedder | None = None,
) -> library.VariationPolicy:
    """The operators the config asks for, chosen by weight or by a bandit; with
    ``operators.coevolve``, their operator genomes co-evolve in pools of ``coevolve_pool``,
    replaced every ``coevolve_every`` credits (lineage to ``sinks``: all kinds', or per kind).
    The edit memory lives where ``edit_store`` says (in the process when None) and embeds with
    ``embedder`` (default: ``llm``). The operators read what the run knows of their parents from
    ``feedback`` (which the engine fills)."""
    chosen = _weighed(config.operators.weights, space_groups(space), llm is not None)
    if not chosen:
        raise ConfigError("operators.weights: no operator is left (give one a weight above 0)")
    uses_llm = any(op.uses_llm for op, _ in chosen.values())
    memory = (
        await open_edit_memory(embedder or llm, edit_store)
        if config.operators.edit_memory and llm is not None and uses_llm
        else None
    )
    known = feedback or Feedback()
    context = library.OperatorContext(
        space=space,
        llm=llm,
        model=model or "local",
        memory=memory,
        scores=known.scores,
        items=known.items,
        transcripts=known.excerpts,
        summaries=known.summaries,
        repair=getattr(space, "repair", None),
    )
    bandit = library.OperatorBandit.over(list(chosen)) if config.operators.bandit else None
    fixed = None if bandit is not None else {name: weight for name, (_, weight) in chosen.items()}
    kinds = {name: KINDS[name] for name in chosen if name in KINDS}
    coevolution = (
        CoEvolution(
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


@dataclass(frozen=True)
class EditStore:
    """Where an edit memory lives: the pgvector ``table`` at ``postgres_url`` (through ``db``
    when given: a pool that its owner closes), or in the process when neither is given."""

    postgres_url: str | None = None
    table: str = "edit_memory"
    db: Database | None = None

    @classmethod
    def of_run(cls, out: Path, postgres_url: str | None, db: Database | None = None) -> EditStore:
        """The store of the run in folder ``out``, on PostgreSQL when ``postgres_url`` or ``db`` is given."""
        return cls(postgres_url, run_table(out), db)


def run_table(out: Path) -> str:
    """The table of the run in folder ``out`` on this host."""
    identity = {"host": socket.gethostname(), "out": str(Path(out).resolve())}
    return EDIT_MEMORY_PREFIX + digest(identity, domain="edit-memory-table")[:20]


async def open_edit_memory(embedder: Embedder, where: EditStore | None = None) -> EditMemory:
    """An ``EditMemory`` embedding with ``embedder``, kept where ``where`` says."""
    [probe] = await embedder.embed(["an edit of a workflow"])
    if where is None or (where.postgres_url is None and where.db is None):
        return EditMemory(SemanticMemory(embedder, MemoryVectorStore(len(probe))))
    db = where.db or Database(_Connections(str(where.postgres_url)))
    existing = await db.fetch_value(
        "SELECT atttypmod FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'embedding'",
        where.table,
    )
    if existing is not None and existing != len(probe):  # another model's vectors: start over
        await PgVectorStore(db, where.table, len(probe)).drop()
    store = await PgVectorStore.open(db, where.table, len(probe), index="none")
    return EditMemory(SemanticMemory(embedder, store), stored=partial(stored_ids, store))


async def stored_ids(store: PgVectorStore) -> list[str]:
    """Every id in ``store``'s table."""
    records = await store.db.fetch_records(f"SELECT id FROM {store.table}")
    return sorted(str(record["id"]) for record in records)


class _Connections:
    """What ``Database`` needs of a pool, opening a connection per use and closing it after."""

    def __init__(self, url: str) -> None:
        self.url = url

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        import asyncpg

        try:
            connection = await asyncpg.connect(dsn=self.url)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise ServiceUnavailable(f"cannot connect to PostgreSQL for the edit memory: {error!r}") from None
        try:
            yield connection
        finally:
            await connection.close()

    async def close(self) -> None:
        """Nothing stays open between uses."""
