"""``run_experiment(config, out)``: everything an experiment needs, wired, run, reported.

The order: the folder and the experiment are checked; services, forum store and model client are
opened (``open_resources``, after a note saying so) and the config is saved into the folder; the
live progress starts (``evoforum.run.progress``); the MLflow tracker starts; ``plan`` builds the
operators and the item function; the engine runs with the valid split as its items, lineage going
to JSONL, MLflow and the progress, and its work to the progress's ``WorkTally``; the winner is
scored on the test split (with the experiment's baselines), exported to ``winner.py``, and
``summary.json`` (a ``RunSummary``) is written. Everything opened is closed by one
``AsyncExitStack``, also when the run fails: the lineage files, the MLflow run (ended as failed or
killed unless it finished), the evaluator, the progress (``progress.json`` saying how the run
ended) and the services.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from evoforum.config import ExperimentConfig
from evoforum.errors import BudgetExceeded, ConfigError, EvoforumError
from evoforum.evolve import Engine, EvolutionResult, JsonlLineage, LocalEvaluator, Racing
from evoforum.evolve.cache import Key, ResultCache
from evoforum.evolve.checkpoint import load_checkpoint
from evoforum.evolve.engine import JOURNAL
from evoforum.evolve.evaluate import ItemResult
from evoforum.evolve.individual import Individual, is_failure
from evoforum.evolve.lineage import read_lineage
from evoforum.evolve.watch import WorkTally
from evoforum.forum.promise import recorded_cancellations
from evoforum.run.algorithms import ALGORITHMS, Origins, base_of, describe_sample, unwrap_samples
from evoforum.run.display import Display, Mode
from evoforum.run.folder import GenomeBook, RunFolder, RunSummary
from evoforum.run.llm import calls_in_flight
from evoforum.run.plan import LLM_BUDGET, Design, Plan, StopFlag, design, plan
from evoforum.run.progress import Earlier, ModelUse, Progress
from evoforum.run.remote import RemoteItems, Tallied
from evoforum.run.resources import Resources, forum_at, open_resources

MARKER_WAIT_S = 2.0
"""How long a stopping run waits for the cancel markers of its calls in flight (within the CLI's
grace of 7 s before it ends the process)."""


async def run_experiment(
    config: ExperimentConfig,
    out: Path,
    *,
    resume: bool = False,
    state_dir: str | None = None,
    progress: Mode = "auto",
) -> dict[str, Any]:
    """Run (or, with ``resume``, continue) the experiment of ``config`` in folder ``out``; the
    summary, as ``summary.json`` holds it (``RunSummary``). ``progress`` says how progress is
    shown on stderr (``evoforum.run.display.Mode``); ``progress.json`` is kept current in any mode."""
    started = time.monotonic()
    folder = RunFolder(out)
    earlier = _prepare(config, folder, resume)
    display = Display(progress)
    async with AsyncExitStack() as stack:
        designed = design(config)
        _note_services(display, config, designed)
        resources = await open_resources(
            stack,
            config,
            folder,
            need_store=designed.needs_store,
            need_llm=designed.needs_llm,
            state_dir=state_dir,
            spent=(earlier.tokens, earlier.cost),
        )
        # unwound before the services close: the markers of calls cancelled by a stop reach the store
        stack.push_async_callback(recorded_cancellations, MARKER_WAIT_S)
        if not resume:  # only once the services answer: a run that never started leaves no config
            folder.save_config(config)
        book = GenomeBook(folder / folder.GENOMES, partial(describe_sample, designed.describe))
        usage = ModelUse(resources.ledger, earlier)
        checkpoint = load_checkpoint(folder.path)
        stop = StopFlag()
        status = Progress.of_run(
            folder,
            checkpoint,
            usage,
            stop,
            tally=_tally(config, designed),
            display=display,
            load=partial(calls_in_flight, resources.llm, resources.operator_llm),
            wall_s=config.budget.wall_s,
            limits=partial(_llm_limits, config, usage),
            report=partial(_report_of, book, designed),
        )
        stack.push(partial(_end_progress, status))
        status.tally.begin("setup")
        status.start()
        tracker = _tracker(config, folder, designed, book, resources)
        stack.push(partial(_end_tracker, tracker))
        planned = await plan(designed, resources, folder=folder, stack=stack, tracker=tracker, stop=stop)
        engine = _engine(config, folder, planned, book, resources, stop, status, tracker, stack)
        if checkpoint is not None:  # a resumed run: its genomes, for tracking and export
            book.remember_checkpoint(checkpoint)
        try:
            result = await engine.run(resume=resume)
        except BudgetExceeded as spent:  # an operator's model call did not fit: stop cleanly
            display.note("stopping", f"stopping: {spent}", reason=LLM_BUDGET)
            result = engine.result(stopped=LLM_BUDGET)
        if result.best is None:
            raise ConfigError("no candidate was evaluated: the budget allows no evaluation")
        search = usage.totals()  # what the search spent, before the test split is scored
        await resources.lift_budget()  # the budget bounds the search, not the test split
        status.tally.begin("test")
        test_score, test_tokens, baselines = await _test_scores(engine, designed, book, result.best)
        winner, _ = base_of(result.best.genome)
        (folder / folder.WINNER).write_text(designed.export(winner), encoding="utf-8")
        summary = _summary(
            designed,
            planned,
            result,
            test_score=test_score,
            test_tokens=test_tokens,
            baselines=baselines,
            winner=winner,
            resources=resources,
            usage=usage,
            search=search,
            stopped=stop.reason or result.stopped,
            tracker=tracker,
            reports=folder.read_jsonl(folder.REPORTS),
            wall_s=earlier.wall_s + time.monotonic() - started,
        )
        scores = {"best_valid": summary.best.valid_score, "best_test": summary.best.test_score}
        metrics = {"evaluations": float(result.evaluations)}
        metrics |= {name: value for name, value in scores.items() if value is not None}
        tracker.finish(
            elites=[result.best.hash], metrics=metrics, references=_references(test_score, baselines)
        )
        folder.write_summary(summary)
        return summary.to_json()


async def _test_scores(
    engine: Engine, designed: Design, book: GenomeBook, best: Individual
) -> tuple[float | None, float | None, dict[str, dict[str, Any]]]:
    """The winner's score on the test split (None: it failed) and its mean model tokens per test
    item, and the experiment's baselines' (name -> ``BaselineSummary`` fields). The baselines the
    experiment matches to the winner's tokens (``matched_baselines``: its tokens per item over the
    first baseline's) are scored last."""
    test = designed.splits.test
    tests = await engine.score([best.genome], test)
    tokens = _tokens_per_item(engine, best.hash, test)
    baselines: dict[str, dict[str, Any]] = {}

    async def add(name: str, genome: Any) -> None:
        book.remember(genome)
        scored = await engine.score([genome], test)
        baselines[name] = {
            "genome_hash": str(genome.hash),
            "test_score": scored[str(genome.hash)].values[0],
            "tokens_per_item": _tokens_per_item(engine, str(genome.hash), test),
        }

    for name, genome in designed.baselines.items():
        await add(name, genome)
    first = next(iter(baselines.values()), {}).get("tokens_per_item")
    if tokens and first:
        for name, genome in designed.experiment.matched_baselines(tokens / first).items():
            await add(name, genome)
    return _score(tests[best.hash].values), tokens, baselines


def _references(test_score: float | None, baselines: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The fitness picture's reference lines: each baseline's test score and, beside them, the
    winner's (the curves are on the valid split); none without baselines."""
    if not baselines:
        return {}
    lines = {f"{name} (test)": float(baseline["test_score"]) for name, baseline in baselines.items()}
    return lines | ({"winner (test)": test_score} if test_score is not None else {})


def _tokens_per_item(engine: Engine, genome_hash: str, items: Sequence[str]) -> float | None:
    """The mean model tokens (prompt and completion) a genome's results on ``items`` say it used."""
    found = [engine.cache.get((genome_hash, item, engine.eval_seed)) for item in items]
    used = [float(result.info.get("tokens", 0)) for result in found if result is not None]
    return sum(used) / len(used) if used else None


def _summary(
    designed: Design,
    planned: Plan,
    result: EvolutionResult,
    *,
    test_score: float | None,
    test_tokens: float | None,
    baselines: dict[str, dict[str, Any]],
    winner: Any,
    resources: Resources,
    usage: ModelUse,
    search: tuple[int, int, float],
    stopped: str,
    tracker: Any,
    reports: list[Any],
    wall_s: float,
) -> RunSummary:
    config, best = designed.config, result.best
    assert best is not None
    calls, tokens, cost = usage.totals()
    return RunSummary(
        experiment=config.experiment.name,
        search_space=config.search_space.name if designed.kind == "workflow" else None,
        algorithm=config.algorithm.kind,
        objectives=list(designed.objectives),
        best={
            "genome_hash": best.hash,
            "valid_score": _score(best.fitness.values),
            "test_score": test_score,
            "test_tokens_per_item": test_tokens,
            "values": list(best.fitness.values),
            "operator": best.operator,
            "generation": best.generation,
            "exported_hash": str(winner.hash),
        },
        baselines=baselines,
        report=designed.report(winner),
        report_history=reports,
        evaluations=result.evaluations,
        item_evaluations=result.jobs,
        generations=result.generation,
        stopped=stopped,
        llm_calls=calls,
        llm_tokens=tokens,
        search_llm_calls=search[0],
        search_llm_tokens=search[1],
        llm_cost_usd=cost,
        llm_cache_hits=resources.cache_hits,
        operators=planned.operator_stats(),
        coevolution=planned.coevolution() if planned.coevolution is not None else None,
        splits={name: len(items) for name, items in vars(designed.splits).items()},
        history=[vars(stats) for stats in result.history],
        mlflow={"tracking_uri": tracker.tracking_uri, "run_id": tracker.run_id},
        wall_s=wall_s,
    )


async def resume_experiment(
    out: Path, *, state_dir: str | None = None, progress: Mode = "auto"
) -> dict[str, Any]:
    """Continue the run in ``out`` with the config saved there; the summary."""
    config = RunFolder(out).read_config()
    return await run_experiment(config, out, resume=True, state_dir=state_dir, progress=progress)


def _note_services(display: Display, config: ExperimentConfig, designed: Design) -> None:
    """Say which services the run starts (or finds running) before it waits for them."""
    names = ["PostgreSQL"] if designed.needs_store else []
    if designed.needs_llm and config.llm.mode != "replay":
        names.append("the model server")
    if names:
        display.note("services", f"starting services: {' and '.join(names)} (or finding them running)")


def _tally(config: ExperimentConfig, designed: Design) -> WorkTally:
    """The run's ``WorkTally``: its last generation, the first objective's direction, and a later
    generation's share of generation 0's candidates (offspring over population)."""
    section = config.algorithm
    return WorkTally(
        last_generation=section.generations,
        sign=designed.weights[0],
        later_share=(section.offspring or section.population) / section.population,
    )


def _end_progress(
    progress: Progress,
    kind: type[BaseException] | None,
    error: BaseException | None,
    trace: TracebackType | None,
) -> bool:
    """Exit callback: the progress display ends, ``progress.json`` saying how the run ended."""
    interrupted = kind is not None and issubclass(kind, (KeyboardInterrupt, asyncio.CancelledError))
    progress.close("done" if kind is None else "interrupted" if interrupted else "failed")
    return False


def _score(values: Sequence[float]) -> float | None:
    """The first objective, or None when the candidate failed (the engine's failure fitness)."""
    return None if is_failure(values) else values[0]


def _report_of(book: GenomeBook, designed: Design, genome_hash: str) -> dict[str, Any]:
    """The experiment's report of the genome ``genome_hash`` (none for a genome not seen)."""
    genome = book.genomes.get(genome_hash)
    return designed.report(base_of(genome)[0]) if genome is not None else {}


def _llm_limits(config: ExperimentConfig, usage: ModelUse) -> str | None:
    """Which LLM budget is spent (``llm_tokens``, ``cost_usd``), if any."""
    _, tokens, cost = usage.totals()
    if config.budget.llm_tokens is not None and tokens >= config.budget.llm_tokens:
        return "llm_tokens"
    if config.budget.cost_usd is not None and cost >= config.budget.cost_usd:
        return "cost_usd"
    return None


def _prepare(config: ExperimentConfig, folder: RunFolder, resume: bool) -> Earlier:
    """Check the folder and the experiment before anything is written; what earlier sessions spent."""
    if not resume:
        if folder.holds_run():
            out = folder.path
            raise ConfigError(f"{out} already holds a run: 'evoforum resume {out}', or choose another --out")
        import experiments

        experiments.get(config.experiment.name, config.experiment.options, config.seed)  # fail early
        folder.path.mkdir(parents=True, exist_ok=True)
    return Earlier(folder.read_json(folder.PROGRESS, {}) or {})


def _engine(
    config: ExperimentConfig,
    folder: RunFolder,
    planned: Plan,
    book: GenomeBook,
    resources: Resources,
    stop: StopFlag,
    progress: Progress,
    tracker: Any,
    stack: AsyncExitStack,
) -> Engine:
    """The engine of the run, its lineage and evaluator closed with ``stack``."""
    section = config.algorithm
    origins = Origins(planned.random_init, planned.seed_genome, book.remember)
    search = ALGORITHMS[section.kind](section, book.remembering(planned.operators), origins)
    lineage = JsonlLineage(folder / folder.LINEAGE)
    stack.callback(lineage.close)
    cache = ResultCache(folder.path / JOURNAL)
    evaluator = _evaluator(config, folder, planned, resources, stop, progress.tally, cache)
    stack.push_async_callback(evaluator.aclose)
    return Engine(
        operators=search.operators,
        algorithm=search.algorithm,
        evaluator=evaluator,
        items=list(planned.design.splits.valid),
        weights=planned.design.weights,
        generations=section.generations,
        seed=config.seed,
        islands=search.islands,
        racing=Racing(config.evaluation.racing_min_items) if config.evaluation.racing else None,
        out_dir=folder.path,
        lineage=[lineage, tracker, progress],
        max_jobs=config.budget.evaluations,
        observers=planned.observers,
        on_known=planned.on_known,
        stateful=planned.stateful,
        on_generation=[progress.generation_done],
        stop=stop,
        watcher=progress.tally,
        result_cache=cache,
    )


def _done(
    cache: ResultCache | None, tally: WorkTally | None, finished: Sequence[tuple[Key, ItemResult]]
) -> None:
    """Items as they finish: into the result cache's journal, then the progress tally."""
    if cache is not None:
        cache.put_many(finished)
    if tally is not None:
        tally.done(finished)


def _evaluator(
    config: ExperimentConfig,
    folder: RunFolder,
    planned: Plan,
    resources: Resources,
    stop: StopFlag,
    tally: WorkTally | None = None,
    cache: ResultCache | None = None,
) -> Any:
    """The evaluator of ``evaluation.backend``; on Ray, a workflow experiment's items are scored by
    ``RemoteItems`` (workers open the run's services themselves) and their model calls are
    tallied into the driver's ledger. A local evaluator puts each item into ``cache`` (its journal)
    and tells ``tally`` as the item is done (on Ray the assessor does both each batch)."""
    evaluation = config.evaluation
    if evaluation.backend != "ray":
        concurrency = evaluation.items_at_once(resources.llm_slots)
        return LocalEvaluator(
            unwrap_samples(planned.item_fn), concurrency=concurrency, on_done=partial(_done, cache, tally)
        )
    from evoforum.evolve import RayTuneEvaluator

    scorer = planned.scorer
    remote = (
        RemoteItems.of(scorer, config, resources.urls, resources.budget, resources.workspace)
        if scorer is not None
        else None
    )
    evaluator = RayTuneEvaluator(
        unwrap_samples(remote.score if remote is not None else planned.item_fn),
        workers=evaluation.items_at_once(),
        address=evaluation.ray_address,
        min_batch=evaluation.batch_size,
        storage_path=folder / folder.RAY,
    )
    if remote is None:
        return evaluator
    return Tallied(evaluator, resources.ledger, partial(stop.set, LLM_BUDGET))


def _tracker(
    config: ExperimentConfig, folder: RunFolder, designed: Design, book: GenomeBook, resources: Resources
) -> Any:
    """The run's ``MlflowLineage``: one parent run, a nested run per logged candidate; with a forum
    store and ``tracking.traces`` other than ``none``, their items' conversations as traces."""
    from evoforum.tracking import CandidateFiles, MlflowLineage
    from evoforum.tracking.traces import ConversationTraces

    uri = config.tracking.mlflow_uri or f"sqlite:///{(folder / folder.MLFLOW_DB).resolve()}"

    def describe(genome_hash: str) -> CandidateFiles | None:
        text = book.json.get(genome_hash)
        if text is None:
            return None
        genome = book.genomes.get(genome_hash)
        code = designed.export(base_of(genome)[0]) if genome is not None else None
        return CandidateFiles(genome_json=text, code=code)

    mode, url = config.tracking.traces, resources.postgres_url
    traces = None
    if mode != "none" and resources.store is not None and url is not None:
        traces = ConversationTraces(uri, forum_at(url), mode)
    return MlflowLineage(
        uri,
        config.tracking.experiment_name or f"evoforum-{config.experiment.name}",
        folder.path,
        run_name=folder.path.name,
        params=_flatten(config.model_dump(mode="json")),
        log=config.tracking.log,
        objectives=designed.objectives,
        describe=describe,
        traces=traces,
        history=read_lineage(folder / folder.LINEAGE),
    )


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): data}


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


def winner_source(out: Path) -> str:
    """The winner of the run in folder ``out`` (or, while it runs, its best so far) as a Python module."""
    folder = RunFolder(out)
    designed = design(folder.read_config())
    key = folder.winner_hash()
    if designed.kind == "workflow":
        from evoforum.genome import WorkflowGenome

        text = GenomeBook(folder / folder.GENOMES, designed.describe).json.get(key)
        if text is None:
            raise ConfigError(f"{out}: genome {key[:12]} is not in {folder.GENOMES}")
        data = orjson.loads(text)
        return designed.export(WorkflowGenome.load(data.get("base", data)))  # best_of_n: a sample of the seed
    state = load_checkpoint(folder.path)
    found = [ind for ind in (state or {}).get("archive", []) if ind.hash == key]
    if not found:
        raise ConfigError(f"{out}: the winner {key[:12]} is not in the checkpoint")
    return designed.export(base_of(found[0].genome)[0])
