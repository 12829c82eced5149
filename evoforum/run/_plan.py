"""The experiment side of a run: items, genome operators, item function, exporter, report.

``make_plan(config)`` reads the experiment (and, for workflow experiments, the search space)
and says which services the run needs; ``plan.wire(resources, out, stack, tracker)`` then builds
what needs them (the LLM operators, the item function running workflows on the forum store).
With ``operators.coevolve``, the co-evolved operator genomes' lineage goes to ``coevolution.jsonl``
(closed with ``stack``) and, as runs of population ``operators``, to the run's MLflow ``tracker``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evoforum.config import ExperimentConfig
from evoforum.errors import ConfigError
from evoforum.evolve import Operators

COEVOLUTION = "coevolution.jsonl"
"""Lineage records of the co-evolved operator genomes, in the output folder."""
OPERATORS = "operators"
"""The MLflow population (``evoforum.population`` tag) of the co-evolved operator genomes."""


@dataclass
class Plan:
    config: ExperimentConfig
    experiment: Any
    kind: str
    splits: Any
    weights: tuple[float, ...] = (1.0,)
    objectives: tuple[str, ...] = ("quality",)
    operators: Operators = field(default=None)  # type: ignore[assignment]
    item_fn: Callable[..., Any] = field(default=None)  # type: ignore[assignment]
    describe: Callable[[Any], str] = field(default=None)  # type: ignore[assignment]
    export: Callable[[Any], str] = field(default=None)  # type: ignore[assignment]
    report: Callable[[Any], dict[str, Any]] = field(default=lambda genome: {})
    random_init: Callable[[random.Random], Any] = field(default=None)  # type: ignore[assignment]
    baselines: dict[str, Any] = field(default_factory=dict)
    seed: Callable[[random.Random], Any] | None = None
    space: Any = None
    needs_store: bool = False
    needs_llm: bool = False
    observers: list[Any] = field(default_factory=list)
    stateful: list[Any] = field(default_factory=list)
    operator_stats: Callable[[], dict[str, Any]] = field(default=dict)
    coevolution: Callable[[], dict[str, Any]] | None = None
    """The co-evolved operator genomes, per kind (with ``operators.coevolve``)."""
    budget_spent: str | None = None

    def seed_genome(self) -> Any:
        """The seed workflow that ``best_of_n`` samples."""
        return (self.seed or self.operators.init)(random.Random(self.config.seed))

    async def wire(
        self, resources: Any, out: Path, stack: AsyncExitStack | None = None, tracker: Any = None
    ) -> None:
        """Build what needs the services; files it opens are closed by ``stack``; ``tracker`` (an
        ``MlflowLineage``) also gets the co-evolved operator genomes' lineage."""
        if self.kind == "workflow":
            await self._wire_workflow(resources, out, stack, tracker)

    async def _wire_workflow(
        self, resources: Any, out: Path, stack: AsyncExitStack | None, tracker: Any
    ) -> None:
        from evoforum.evolve.operators.operator_genomes import Transcribed
        from evoforum.evolve.sandbox import Sandbox, SandboxLimits
        from evoforum.run._llm import Sampling
        from evoforum.run._operators import Seeding, variation
        from evoforum.run._workflow import WorkflowScorer

        config = self.config
        seeding = Seeding(self.space, self.experiment.seed_indices())
        # Transcribed below Sampling: it sees each request as it is recorded
        llm = (
            Sampling(Transcribed(resources.llm), seed=config.seed, max_tokens=384) if resources.llm else None
        )
        pools: list[Any] = []
        sinks = _coevolution_sinks(out, stack, tracker, pools) if config.operators.coevolve else {}
        edit_store = await _edit_store(config, resources, out, stack)
        policy = await variation(config, self.space, llm, resources.model, sinks, edit_store)
        if policy.coevolution is not None:
            pools.append(policy.coevolution)
            self.coevolution = policy.coevolution.summary
        self.operators = policy.engine_operators(seeding.init)
        self.random_init = seeding.random_genome
        self.observers.append(policy.observe_individual)
        self.stateful.append(policy)
        self.operator_stats = policy.context.stats.as_dict
        evaluation = config.evaluation
        limits = SandboxLimits(
            wall_s=min(30.0, evaluation.timeout_s), memory_mb=max(256, evaluation.memory_mb)
        )
        self.item_fn = WorkflowScorer(
            self.experiment,
            llm=resources.llm,
            forum=resources.forum,
            sandbox=Sandbox(limits),
            model=resources.model,
            timeout_s=evaluation.timeout_s,
            cost_objective="cost" in config.algorithm.objectives,
            on_budget=lambda: setattr(self, "budget_spent", "llm_budget"),
        ).score


async def _edit_store(
    config: ExperimentConfig, resources: Any, out: Path, stack: AsyncExitStack | None
) -> Any:
    """The run's own pgvector table for its edit memory (through a small pool closed with
    ``stack``), when the run has PostgreSQL and LLM operators that remember edits."""
    from evoforum.run._edit_memory import EditStore

    postgres = (resources.urls or {}).get("postgres")
    if not (config.operators.edit_memory and resources.llm is not None and postgres):
        return None
    db = None
    if stack is not None:
        from evoforum.memory import Database

        db = await Database.connect(postgres, max_size=2)
        stack.push_async_callback(db.close)
    return EditStore.of_run(out, postgres, db)


def _coevolution_sinks(
    out: Path, stack: AsyncExitStack | None, tracker: Any, pools: list[Any]
) -> dict[str, Sequence[Any]]:
    """Per operator kind: ``coevolution.jsonl`` (shared) and, with a tracker, its MLflow
    population; ``pools`` will hold the ``CoevolvingOperators`` whose genomes are described."""
    from evoforum.evolve import JsonlLineage
    from evoforum.evolve.operators.operator_genomes import default_genomes

    jsonl = JsonlLineage(out / COEVOLUTION)
    if stack is not None:
        stack.callback(jsonl.close)

    def describe(genome_hash: str) -> Any:
        from evoforum.tracking import CandidateFiles

        genome = pools[0].genome(genome_hash) if pools else None
        return CandidateFiles(genome_json=genome.model_dump_json()) if genome is not None else None

    sinks: dict[str, Sequence[Any]] = {}
    for kind in default_genomes():
        population = (
            [
                tracker.population(
                    OPERATORS, tags={"evoforum.operator_kind": kind}, describe=describe,
                    metrics=("improvement",), count="trials",
                )
            ]
            if tracker is not None
            else []
        )  # fmt: skip
        sinks[kind] = [jsonl, *population]
    return sinks


def make_plan(config: ExperimentConfig) -> Plan:
    import experiments

    experiment = experiments.get(config.experiment.name, config.experiment.options, config.seed)
    plan = Plan(config=config, experiment=experiment, kind=experiment.kind, splits=experiment.splits())
    if experiment.kind == "custom":
        problem = experiment.problem()
        plan.operators, plan.item_fn = problem.operators, problem.item_fn
        plan.weights, plan.objectives = problem.weights, problem.objectives
        plan.describe, plan.export, plan.report = problem.describe, problem.export, problem.report
        plan.random_init = problem.random_init or problem.operators.init
        plan.seed = problem.seed
        if config.algorithm.objectives != ("quality",):
            raise ConfigError(f"algorithm.objectives: experiment {experiment.name!r} has its own objectives")
        return plan
    import search_spaces
    from evoforum.codegen import export

    plan.space = search_spaces.get(config.search_space.name)
    if config.search_space.options:
        raise ConfigError("search_space.options: the search spaces take no options yet")
    extra = [o for o in config.algorithm.objectives[1:] if o != "cost"]
    if extra:
        raise ConfigError(f"algorithm.objectives: {extra[0]!r} is not measured yet (quality and cost are)")
    if "cost" in config.algorithm.objectives:
        plan.weights, plan.objectives = (1.0, -1.0), ("quality", "tokens")
    plan.describe = lambda genome: genome.model_dump_json()
    plan.export = export
    plan.baselines = experiment.baselines()
    plan.needs_store = True
    weights = config.operators.weights
    llm_operators = any(weights.get(name, 0) > 0 for name in ("rewrite", "lmx"))
    plan.needs_llm = experiment.uses_llm or llm_operators
    return plan
