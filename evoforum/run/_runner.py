"""``run_experiment(config, out)``: everything an experiment needs, wired, run, reported.

The order: the config is saved into the output folder; services, forum store and model client are
opened (and closed at the end); the experiment and its search space give items, scorer,
operators; the engine runs with the valid split as its items, lineage going to JSONL, MLflow and
the progress line; the winner is scored on the test split (with the experiment's baselines),
exported to ``winner.py``, and ``summary.json`` is written. Everything opened is closed by one
``AsyncExitStack``, also when the run fails: the lineage files, the MLflow run (ended as failed
or killed unless it finished), the evaluator and the services.
"""

from __future__ import annotations

import asyncio
import sys
import time
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

from evoforum.config import ExperimentConfig
from evoforum.errors import BudgetExceeded, ConfigError, EvoforumError
from evoforum.evolve import (
    NSGA2,
    Engine,
    Generational,
    Islands,
    JsonlLineage,
    LocalEvaluator,
    MuPlusLambda,
    Operators,
    Racing,
)
from evoforum.evolve.checkpoint import load_checkpoint
from evoforum.run import _files as files
from evoforum.run._baselines import BestOfN, RandomSearch, base_of, describe_sample, unwrap_samples
from evoforum.run._plan import Plan, make_plan
from evoforum.run._progress import Progress
from evoforum.run._resources import open_resources


async def run_experiment(
    config: ExperimentConfig, out: Path, *, resume: bool = False, state_dir: str | None = None
) -> dict[str, Any]:
    """Run (or, with ``resume``, continue) the experiment of ``config`` in folder ``out``; the summary."""
    started = time.monotonic()
    previous = _prepare(config, out, resume)
    async with AsyncExitStack() as stack:
        plan = make_plan(config)
        resources = await open_resources(
            stack, config, out, need_store=plan.needs_store, need_llm=plan.needs_llm, state_dir=state_dir,
            spent=(int(previous.get("llm_tokens", 0)), float(previous.get("llm_cost_usd", 0.0))),
        )  # fmt: skip
        if not resume:  # only once the services answer: a run that never started leaves no config
            files.save_config(out, config)
        book = files.GenomeBook(out / files.GENOMES, partial(describe_sample, plan.describe))
        tracker = _mlflow(config, out, plan, book)
        stack.push(partial(_end_tracker, tracker))
        await plan.wire(resources, out, stack, tracker)
        progress = Progress(
            sign=plan.weights[0],
            totals=lambda: _llm_totals(resources, previous),
            wall_s=config.budget.wall_s,
            elapsed_before=float(previous.get("wall_s", 0.0)),
            limits=lambda: plan.budget_spent or _llm_budget_spent(config, _llm_totals(resources, previous)),
        )
        lineage = JsonlLineage(out / files.LINEAGE)
        stack.callback(lineage.close)
        sinks = [lineage, tracker, progress]
        engine = _engine(config, out, plan, book, progress, sinks, resources)
        progress.engine = engine

        def on_generation(generation: int) -> None:
            files.write_json(out / files.PROGRESS, _progress_state(progress, resources, previous))
            genome = book.genomes.get(progress.best_hash or "")
            report = plan.report(base_of(genome)[0]) if genome is not None else {}
            if report:
                row = {
                    "generation": generation,
                    "evaluations": progress.evaluations,
                    "jobs": engine.assessor.jobs_run,
                }
                files.append_json(out / files.REPORTS, {**row, "best": progress.best_hash, **report})

        progress.on_generation = on_generation
        _remember_checkpoint(out, book, progress)
        evaluator = engine.evaluator
        stack.push_async_callback(evaluator.aclose)
        try:
            result = await engine.run(resume=resume)
        except BudgetExceeded as spent:  # an operator's model call did not fit: stop cleanly
            print(f"evoforum: stopping: {spent}", file=sys.stderr)
            result = engine.result(stopped="llm_budget")
        if result.best is None:
            raise ConfigError("no candidate was evaluated: the budget allows no evaluation")
        best = result.best
        tests = await engine.score([best.genome], plan.splits.test)
        test_score = _score(tests[best.hash].values)
        baselines = {}
        for name, genome in plan.baselines.items():
            book.remember(genome)
            scored = await engine.score([genome], plan.splits.test)
            baselines[name] = {
                "genome_hash": str(genome.hash),
                "test_score": scored[str(genome.hash)].values[0],
            }
        winner, _ = base_of(best.genome)
        (out / files.WINNER).write_text(plan.export(winner), encoding="utf-8")
        calls, tokens, cost = _llm_totals(resources, previous)
        wall = float(previous.get("wall_s", 0.0)) + time.monotonic() - started
        summary = {
            "experiment": config.experiment.name,
            "search_space": config.search_space.name if plan.kind == "workflow" else None,
            "algorithm": config.algorithm.kind,
            "objectives": list(plan.objectives),
            "best": {
                "genome_hash": best.hash,
                "valid_score": _score(best.fitness.values),
                "test_score": test_score,
                "values": list(best.fitness.values),
                "operator": best.operator,
                "generation": best.generation,
                "exported_hash": str(winner.hash),
            },
            "baselines": baselines,
            "report": plan.report(winner),
            "report_history": files.read_jsonl(out / files.REPORTS),
            "evaluations": result.evaluations,
            "item_evaluations": result.jobs,
            "generations": result.generation,
            "stopped": progress.stopped or result.stopped,
            "llm_calls": calls,
            "llm_tokens": tokens,
            "llm_cost_usd": cost,
            "llm_cache_hits": resources.cached.hits if resources.cached is not None else 0,
            "operators": plan.operator_stats(),
            **({"coevolution": plan.coevolution()} if plan.coevolution is not None else {}),
            "splits": {k: len(v) for k, v in vars(plan.splits).items()},
            "history": [
                {
                    "generation": h.generation,
                    "best": list(h.best),
                    "evaluations": h.evaluations,
                    "jobs": h.jobs,
                    "best_hash": h.best_hash,
                }
                for h in result.history
            ],
            "mlflow": {"tracking_uri": tracker.tracking_uri, "run_id": tracker.run_id},
            "wall_s": wall,
        }
        metrics = {"evaluations": float(result.evaluations)}
        for name, value in (("best_valid", _score(best.fitness.values)), ("best_test", test_score)):
            if value is not None:
                metrics[name] = value
        tracker.finish(elites=[best.hash], metrics=metrics)
        files.write_json(out / files.SUMMARY, summary)
        return summary


def _end_tracker(
    tracker: Any,
    kind: type[BaseException] | None,
    error: BaseException | None,
    trace: TracebackType | None,
) -> bool:
    """Exit callback: a run leaving with an exception ends its MLflow run as killed (interrupted)
    or failed; a logging failure then is not allowed to hide the exception that ended the run."""
    if kind is not None:
        interrupted = issubclass(kind, (KeyboardInterrupt, asyncio.CancelledError))
        try:
            tracker.finish(status="KILLED" if interrupted else "FAILED")
        except EvoforumError as failed:
            print(f"evoforum: {failed}", file=sys.stderr)
    return False


def _score(values: tuple[float, ...]) -> float | None:
    """The first objective, or None when the candidate failed (the engine's failure fitness)."""
    return values[0] if values and abs(values[0]) < 1e299 else None


def _prepare(config: ExperimentConfig, out: Path, resume: bool) -> dict[str, Any]:
    """Check the folder and the experiment before anything is written; what earlier sessions spent."""
    if not resume:
        if (out / files.CONFIG).exists() or (out / "checkpoint.pkl").exists():
            raise ConfigError(f"{out} already holds a run: 'evoforum resume {out}', or choose another --out")
        import experiments

        experiments.get(config.experiment.name, config.experiment.options, config.seed)  # fail early
        out.mkdir(parents=True, exist_ok=True)
    previous: dict[str, Any] = files.read_json(out / files.PROGRESS, {}) or {}
    return previous


def _engine(
    config: ExperimentConfig,
    out: Path,
    plan: Plan,
    book: files.GenomeBook,
    progress: Progress,
    sinks: list[Any],
    resources: Any,
) -> Engine:
    section = config.algorithm
    mu, lambda_ = section.population, section.offspring or section.population
    operators = _remembering(plan.operators, book)
    islands = Islands()
    if section.kind == "mu_plus_lambda":
        algorithm: Any = MuPlusLambda(mu, lambda_, section.crossover_rate, section.mutation_rate)
    elif section.kind == "generational":
        algorithm = Generational(
            mu, section.crossover_rate, section.mutation_rate, section.tournament, section.elites
        )
    elif section.kind == "nsga2":
        algorithm = NSGA2(mu, lambda_, section.crossover_rate, section.mutation_rate)
    elif section.kind == "islands":
        algorithm = MuPlusLambda(mu, lambda_, section.crossover_rate, section.mutation_rate)
        islands = Islands(section.islands, section.migration_every, section.migrants)
    elif section.kind == "random_search":
        algorithm = RandomSearch(mu, lambda_, lambda rng: book.remember(plan.random_init(rng)))
        operators = Operators(init=algorithm.random_init, mutate=operators.mutate)
    else:
        seed = book.remember(plan.seed_genome())
        algorithm = BestOfN(mu, lambda_, seed, book.remember)
        operators = Operators(init=algorithm.sampler(), mutate=operators.mutate)
    evaluator = _evaluator(config, out, plan, resources)
    racing = Racing() if config.evaluation.racing else None
    return Engine(
        operators=operators, algorithm=algorithm, evaluator=evaluator, items=list(plan.splits.valid),
        weights=plan.weights, generations=section.generations, seed=config.seed, islands=islands,
        racing=racing, out_dir=out, lineage=sinks, max_jobs=config.budget.evaluations,
        observers=plan.observers, stateful=plan.stateful, on_generation=[progress.generation_done],
    )  # fmt: skip


def _evaluator(config: ExperimentConfig, out: Path, plan: Plan, resources: Any = None) -> Any:
    """The evaluator of ``evaluation.backend``; on Ray, a workflow experiment's items are scored by
    ``RemoteItems`` (workers open the run's services themselves) and their model calls are
    tallied into the driver's ledger."""
    if config.evaluation.backend == "ray":
        from evoforum.evolve.ray_tune import RayTuneEvaluator

        remote = _remote_items(config, plan, resources) if plan.kind == "workflow" else None
        evaluator = RayTuneEvaluator(
            unwrap_samples(remote.score if remote is not None else plan.item_fn),
            workers=config.evaluation.items_at_once(), address=config.evaluation.ray_address,
            min_batch=config.evaluation.batch_size, storage_path=out / "ray",
        )  # fmt: skip
        if remote is None:
            return evaluator
        from evoforum.run._remote import Tallied

        return Tallied(evaluator, resources.ledger, lambda: setattr(plan, "budget_spent", "llm_budget"))
    slots = resources.llm_slots if resources is not None else None
    return LocalEvaluator(unwrap_samples(plan.item_fn), concurrency=config.evaluation.items_at_once(slots))


def _remote_items(config: ExperimentConfig, plan: Plan, resources: Any) -> Any:
    """The picklable twin of the driver's workflow item function, for Ray workers."""
    from evoforum.run._remote import RemoteItems
    from evoforum.run._workflow import WorkflowScorer

    scorer = getattr(plan.item_fn, "__self__", None)
    postgres = (resources.urls or {}).get("postgres") if resources is not None else None
    if not isinstance(scorer, WorkflowScorer) or postgres is None:
        raise ConfigError("evaluation.backend 'ray': a workflow experiment needs the run's forum store")
    return RemoteItems(
        config=config, postgres_url=postgres, llm_url=resources.urls.get("llm") if scorer.llm else None,
        model=scorer.model, sandbox=scorer.sandbox.limits, timeout_s=scorer.timeout_s,
        cost_objective=scorer.cost_objective, budget=resources.budget,
    )  # fmt: skip


def _remembering(operators: Operators, book: files.GenomeBook) -> Operators:
    """``operators`` whose every output genome is written into ``book`` (for tracking and export)."""
    from evoforum.evolve.variation import settle

    async def init(rng: Any) -> Any:
        return book.remember(await settle(operators.init(rng)))

    async def mutate(genome: Any, rng: Any) -> Any:
        return book.remember(await settle(operators.mutate(genome, rng)))

    async def crossover(a: Any, b: Any, rng: Any) -> Any:
        assert operators.crossover is not None
        one, two = await settle(operators.crossover(a, b, rng))
        return book.remember(one), book.remember(two)

    init.__name__, mutate.__name__ = "init", operators.mutate_name
    crossover.__name__ = operators.crossover_name
    return Operators(
        init=init, mutate=mutate, crossover=crossover if operators.crossover else None, label=operators.label
    )


def _remember_checkpoint(out: Path, book: files.GenomeBook, progress: Progress) -> None:
    """A resumed run: its genomes into ``book``, its best and evaluations so far into ``progress``."""
    state = load_checkpoint(out)
    if state is None:
        return
    progress.evaluations = int(state["evaluations"])
    last = state["history"][-1] if state["history"] else None
    if last is not None and last.best and _score(last.best) is not None:
        progress.best, progress.best_hash = last.best[0], last.best_hash
    for island in state["population"]:
        for ind in island:
            book.remember(ind.genome)
    for ind in state["archive"]:
        book.remember(ind.genome)


def _mlflow(config: ExperimentConfig, out: Path, plan: Plan, book: files.GenomeBook) -> Any:
    from evoforum.tracking import CandidateFiles, MlflowLineage

    uri = config.tracking.mlflow_uri or f"sqlite:///{(out / 'mlflow.db').resolve()}"

    def describe(genome_hash: str) -> CandidateFiles | None:
        text = book.json.get(genome_hash)
        if text is None:
            return None
        genome = book.genomes.get(genome_hash)
        code = plan.export(base_of(genome)[0]) if genome is not None else None
        return CandidateFiles(genome_json=text, code=code)

    flat = _flatten(config.model_dump(mode="json"))
    return MlflowLineage(
        uri, config.tracking.experiment_name or f"evoforum-{config.experiment.name}", out,
        run_name=out.name, params=flat, log=config.tracking.log, objectives=plan.objectives, describe=describe,
    )  # fmt: skip


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): data}


def _llm_budget_spent(config: ExperimentConfig, totals: tuple[int, int, float]) -> str | None:
    """Which LLM budget is spent (``llm_tokens``, ``cost_usd``), if any."""
    _, tokens, cost = totals
    if config.budget.llm_tokens is not None and tokens >= config.budget.llm_tokens:
        return "llm_tokens"
    if config.budget.cost_usd is not None and cost >= config.budget.cost_usd:
        return "cost_usd"
    return None


def _llm_totals(resources: Any, previous: dict[str, Any]) -> tuple[int, int, float]:
    total = resources.ledger.total()
    return (
        int(previous.get("llm_calls", 0)) + total.calls,
        int(previous.get("llm_tokens", 0)) + total.tokens,
        float(previous.get("llm_cost_usd", 0.0)) + total.cost,
    )


def _progress_state(progress: Progress, resources: Any, previous: dict[str, Any]) -> dict[str, Any]:
    calls, tokens, cost = _llm_totals(resources, previous)
    return {"wall_s": progress.elapsed(), "llm_calls": calls, "llm_tokens": tokens, "llm_cost_usd": cost}
