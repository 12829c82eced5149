"""Lineage in MLflow: one parent run per experiment, one nested run per logged lineage record.

Each candidate run carries the tags docs/design.md "Lineage in MLflow" pins (``evoforum.genome_hash``,
``evoforum.parent_runs``, ``evoforum.operator``, ``evoforum.generation``, ``evoforum.transcripts``),
a description linking to its parents' runs, its fitness values as metrics, and as artifacts its
genome JSON, its exported code and the diff of that code against each parent's. A later record
of a genome logged before (evaluated again, usually from the cache) is a run of its own, tagged
``evoforum.repeat_of`` with the first run, so the runs and ``lineage.jsonl`` agree one to one. The
experiment run gets the best-so-far and mean fitness of each generation as metrics at
``step=generation``, the winner's hash as ``evoforum.winner`` (its run is tagged
``evoforum.is_winner``), and the lineage graph, fitness over generations (with the experiment's
baselines) and the cost/quality front as pictures. The experiment opens in MLflow's runs view
(``mlflow.experimentKind``).

Candidate runs are tagged ``evoforum.population=workflows``. Other populations evolving in the
same experiment (the co-evolved operator genomes) log through ``population(name, ...)``, a
further ``LineageSink`` whose runs are nested under the same experiment run but stay out of the
candidates' lineage, plots and elites (see ``_population``).

Logging happens on one background thread, so a slow tracking server never stalls evolution (the
artifacts' text is made on the calling thread: describing a genome may parse its code, and
CPython 3.11's ``ast`` must not parse on two threads at once); ``close()`` waits for it and raises ``BackendError`` if anything failed. Which genome went to
which run is appended to ``mlflow_runs.jsonl`` in the output folder (rows of other populations
name theirs), so a resumed run reuses its parent run and never logs a candidate twice.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import orjson

from evoforum.errors import BackendError
from evoforum.evolve.lineage import LineageRecord
from evoforum.tracking import plots
from evoforum.tracking._population import PopulationLineage
from evoforum.tracking.ancestry import closure, generation_fitness
from evoforum.tracking.artifacts import FOLDER, PROXIED, RunArtifacts, own_store
from evoforum.tracking.runs import (
    NOTE,
    SHORT,
    TAG,
    WORKFLOWS,
    CandidateFiles,
    Describe,
    description,
    log_parent_diffs,
    log_transcripts,
    pinned_tags,
    read_rows,
    read_runs,
    run_link,
    run_name,
    runs_view_url,
)
from evoforum.tracking.traces import ConversationTraces


@dataclass(frozen=True)
class Described:
    """A record to log, its files, its parents' code (in the order of ``record.parents``; None:
    not known), its parents' records and whether it repeats a genome logged before."""

    record: LineageRecord
    files: CandidateFiles | None
    before: tuple[str | None, ...]
    parents: tuple[LineageRecord | None, ...]
    repeat: bool = False


Job = Callable[[], object]
"""Work for the logging thread."""
_STOP = object()
RUNS_VIEW = ("mlflow.experimentKind", "custom_model_development")
"""The experiment tag that opens it in MLflow's runs view rather than the GenAI traces page, in the
UIs that read it (MLflow 3.17's takes the view from its URL: ``runs.RUNS_VIEW_QUERY``)."""
STATE = "mlflow.json"
"""The file, in the output folder, naming the run's tracking URI, experiment and experiment run."""


def browse_hint(out: Path, port: int = 5000) -> str | None:
    """How to browse the run in folder ``out`` in MLflow's UI: the ``mlflow ui`` command that serves
    its own store and artifacts, and the address of the experiment's runs view; None for a run
    logged to another store."""
    state_file = out / STATE
    if not state_file.exists():
        return None
    state = orjson.loads(state_file.read_bytes())
    if not (state.get("own_store") or own_store(str(state["tracking_uri"]), out)):
        return None
    command = (
        f"mlflow ui --backend-store-uri sqlite:///{out / 'mlflow.db'}"
        f" --artifacts-destination {out / FOLDER} --port {port}"
    )
    return f"{command}  then open {runs_view_url(str(state['experiment_id']), f'http://127.0.0.1:{port}')}"


class MlflowLineage:
    """A ``LineageSink`` that logs to MLflow (every candidate, or only the elites and their ancestry)."""

    def __init__(
        self,
        tracking_uri: str,
        experiment: str,
        out_dir: Path,
        *,
        run_name: str | None = None,
        params: Mapping[str, Any] | None = None,
        log: Literal["all", "elites"] = "all",
        objectives: Sequence[str] = ("quality",),
        describe: Describe | None = None,
        traces: ConversationTraces | None = None,
        history: Sequence[LineageRecord] = (),
    ) -> None:
        """``history`` holds the records of a resumed run so far (its ``lineage.jsonl``), for the
        pictures, the per-generation metrics and the parents of the records still to come."""
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        from mlflow.tracking import MlflowClient

        self.tracking_uri = tracking_uri
        self.out_dir = out_dir
        self._client = MlflowClient(tracking_uri=tracking_uri)
        self.artifacts = RunArtifacts(self._client, out_dir / FOLDER)
        self._log = log
        self._objectives = tuple(objectives)
        self._describe = describe
        self._traces = traces
        self._records: list[LineageRecord] = []
        self._first: dict[str, LineageRecord] = {}
        self._remember_records(history)
        self._code: dict[str, str | None] = {}
        self._runs_file = out_dir / "mlflow_runs.jsonl"
        self.run_ids: dict[str, str] = read_runs(self._runs_file)
        rows = [row for row in read_rows(self._runs_file) if row.get("population", WORKFLOWS) == WORKFLOWS]
        self._logged: set[int] = {int(row["index"]) for row in rows if "index" in row}
        self._unindexed = {row["genome_hash"] for row in rows if "index" not in row}
        self._queued: set[str] = set(self.run_ids)
        self.run_id = self._parent_run(experiment, run_name, params or {})
        self._stepped = self._last_step()
        self._queue: queue.Queue[object] = queue.Queue()
        self._failure: BaseException | None = None
        self._worker = threading.Thread(target=self._work, name="evoforum-mlflow", daemon=True)
        self._worker.start()
        self._closed = False

    # -- LineageSink --------------------------------------------------------------------------

    def emit(self, records: Sequence[LineageRecord]) -> None:
        self._remember_records(records)
        if self._log == "all":
            self.submit(partial(self._log_batch, self._described(records)))
        if records:  # a generation is over once a record of a later one arrives
            self._log_generations(max(r.generation for r in records) - 1)

    def close(self) -> None:
        self.finish()

    # -- further populations ------------------------------------------------------------------

    def population(
        self,
        name: str,
        *,
        tags: Mapping[str, str] | None = None,
        describe: Describe | None = None,
        metrics: Sequence[str] = ("fitness",),
        count: str = "items",
    ) -> PopulationLineage:
        """A ``LineageSink`` for another population's records: ``tags`` are added to each of its
        runs, ``metrics`` name its fitness values and ``count`` its records' ``items``; a later
        record of a genome already logged updates its metrics (see ``PopulationLineage``)."""
        return PopulationLineage(self, name, tags or {}, describe, tuple(metrics), count)

    def submit(self, job: Job) -> None:
        """Run ``job`` on the logging thread (ignored once the run is finished)."""
        if not self._closed:
            self._queue.put(job)

    def nested_run(self, tags: Mapping[str, str], run_name: str) -> str:
        """A new run nested under the experiment run (logging thread only); its id."""
        run = self._client.create_run(
            self._experiment_id, tags={"mlflow.parentRunId": self.run_id, **tags}, run_name=run_name
        )
        return str(run.info.run_id)

    def remember(
        self,
        genome_hash: str,
        run_id: str,
        population: str = WORKFLOWS,
        index: int | None = None,
        repeat: bool = False,
    ) -> None:
        """Append which run ``genome_hash`` of ``population`` went to (``mlflow_runs.jsonl``), with
        the lineage ``index`` of its record and whether it ``repeat``s a genome logged before."""
        row: dict[str, str | int | bool] = {"genome_hash": genome_hash, "run_id": run_id}
        if population != WORKFLOWS:
            row["population"] = population
        if index is not None:
            row["index"] = index
        if repeat:
            row["repeat"] = True
        with self._runs_file.open("ab") as handle:
            handle.write(orjson.dumps(row) + b"\n")

    # -- the end of an experiment -------------------------------------------------------------

    def finish(
        self,
        elites: Sequence[str] = (),
        metrics: Mapping[str, float] | None = None,
        status: Literal["FINISHED", "FAILED", "KILLED"] = "FINISHED",
        references: Mapping[str, float] | None = None,
    ) -> None:
        """Log the elites (in ``elites`` mode), the experiment's pictures and metrics, and end the run.
        ``references`` (label -> score: the experiment's baselines) are drawn on the fitness picture.

        A run ``KILLED`` (stopped by a signal) gets no pictures: it must stop within seconds, and the
        session that resumes it draws them when it finishes."""
        if self._closed:
            return
        self._closed = True
        if self._log == "elites":
            chosen = self._described(closure(self._records, elites or self._best()))
            self._queue.put(partial(self._log_batch, chosen))
        if self._traces is not None and self._traces.mode == "elites" and status != "KILLED":
            chosen_elites = list(elites or self._best())
            self._queue.put(
                partial(
                    self._traces.log_elites, self._experiment_id, self.run_ids, self._records, chosen_elites
                )
            )
        if status != "KILLED":
            self._log_generations(max((r.generation for r in self._records), default=-1), finishing=True)
        self._queue.put(_STOP)
        self._worker.join()
        try:
            if self._failure is None and status != "KILLED":
                self._experiment_artifacts(
                    elites[0] if elites else next(iter(self._best()), None), metrics or {}, references or {}
                )
            self._client.set_terminated(self.run_id, status=status)
        except Exception as error:  # vendor errors are translated at this seam
            self._failure = self._failure or error
        if self._failure is not None:
            raise BackendError(f"MLflow logging failed: {self._failure}", cause=repr(self._failure))

    def _best(self) -> list[str]:
        scored = [r for r in self._records if r.values]
        return [max(scored, key=lambda r: r.values[0]).genome_hash] if scored else []

    # -- the worker ---------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The ``MlflowClient`` (for jobs on the logging thread)."""
        return self._client

    def _work(self) -> None:
        while (job := self._queue.get()) is not _STOP:
            if self._failure is not None:
                continue
            try:
                assert callable(job)
                job()
            except Exception as error:
                self._failure = error

    def _remember_records(self, records: Sequence[LineageRecord]) -> None:
        """Keep the records not kept yet (a resumed run re-emits its unfinished generation)."""
        last = self._records[-1].index if self._records else -1
        for record in records:
            if record.index > last:
                self._records.append(record)
                self._first.setdefault(record.genome_hash, record)
                last = record.index

    def _described(self, records: Sequence[LineageRecord]) -> list[Described]:
        """The records not logged or queued yet, with their artifacts (on the calling thread); a
        record of a genome logged before is a repeat (in ``elites`` mode, only first records come)."""
        found: list[Described] = []
        for record in records:
            if record.index in self._logged or record.genome_hash in self._unindexed:
                continue
            self._logged.add(record.index)
            parents = tuple(self._first.get(p) for p in record.parents)
            if record.genome_hash in self._queued:
                found.append(Described(record, None, (), parents, repeat=True))
                continue
            self._queued.add(record.genome_hash)
            files = self._describe(record.genome_hash) if self._describe else None
            self._code[record.genome_hash] = files.code if files else None
            coded = files is not None and files.code is not None
            before = tuple(self._parent_code(p) if coded else None for p in record.parents)
            found.append(Described(record, files, before, parents))
        return found

    def _log_batch(self, batch: Sequence[Described]) -> None:
        for entry in batch:
            self._log_candidate(entry)

    def _log_candidate(self, entry: Described) -> None:
        from mlflow.entities import Metric, RunTag

        record = entry.record
        first_run = self.run_ids[record.genome_hash] if entry.repeat else None
        note = description(
            record, entry.parents, self.run_ids, self._experiment_id, self._objectives[0], first_run
        )
        tags = {**pinned_tags(record, self.run_ids), f"{TAG}population": WORKFLOWS, NOTE: note}
        if first_run is not None:
            tags[f"{TAG}repeat_of"] = first_run
        run_id = self.nested_run(tags, run_name(record))
        metrics = [
            Metric(name, value, 0, record.generation)
            for name, value in zip(self._names(record), record.values, strict=True)
        ]
        metrics.append(Metric("items", float(record.items), 0, record.generation))
        self._client.log_batch(run_id, metrics=metrics, tags=[RunTag(f"{TAG}cached", str(record.cached))])
        log_transcripts(self.artifacts, run_id, record)
        self._candidate_artifacts(run_id, record, entry.files, entry.before)
        self._client.set_terminated(run_id)
        if first_run is None:
            self.run_ids[record.genome_hash] = run_id
        self.remember(record.genome_hash, run_id, index=record.index, repeat=first_run is not None)
        if self._traces is not None and self._traces.mode == "all" and first_run is None:
            self._traces.log(self._experiment_id, run_id, record)

    def _names(self, record: LineageRecord) -> list[str]:
        names = list(self._objectives[: len(record.values)])
        return names + [f"objective_{i}" for i in range(len(names), len(record.values))]

    def _candidate_artifacts(
        self, run_id: str, record: LineageRecord, files: CandidateFiles | None, before: Sequence[str | None]
    ) -> None:
        if files is None:
            return
        self.artifacts.log_text(run_id, files.genome_json, "genome.json")
        if files.code is None:
            return
        self.artifacts.log_text(run_id, files.code, "workflow.py")
        log_parent_diffs(self.artifacts, run_id, record, before, files.code, ".py")

    def _parent_code(self, genome_hash: str) -> str | None:
        if genome_hash not in self._code and self._describe is not None:
            files = self._describe(genome_hash)
            self._code[genome_hash] = files.code if files else None
        return self._code.get(genome_hash)

    # -- the experiment run -------------------------------------------------------------------

    def _parent_run(self, experiment: str, run_name: str | None, params: Mapping[str, Any]) -> str:
        state_file = self.out_dir / STATE
        if state_file.exists():
            state = orjson.loads(state_file.read_bytes())
            self._experiment_id = str(state["experiment_id"])
            self._client.update_run(state["run_id"], status="RUNNING")
            if state["tracking_uri"] != self.tracking_uri:  # the folder moved, its own store with it
                self._write_state(state["experiment_id"], state["run_id"])
            return str(state["run_id"])
        found = self._client.get_experiment_by_name(experiment)
        if found is not None:
            self._experiment_id = found.experiment_id
        else:
            local = self.tracking_uri.startswith(("sqlite:", "file:")) or "://" not in self.tracking_uri
            location = (self.out_dir / FOLDER).resolve().as_uri() if local else None
            if own_store(self.tracking_uri, self.out_dir):  # no absolute path: the folder can move
                location = PROXIED
            self._experiment_id = self._client.create_experiment(
                experiment, artifact_location=location, tags={RUNS_VIEW[0]: RUNS_VIEW[1]}
            )
        run = self._client.create_run(
            self._experiment_id, run_name=run_name, tags={f"{TAG}kind": "experiment"}
        )
        from mlflow.entities import Param

        flat = [Param(k, str(v)[:6000]) for k, v in sorted(params.items())]
        for start in range(0, len(flat), 90):
            self._client.log_batch(run.info.run_id, params=flat[start : start + 90])
        self._write_state(self._experiment_id, run.info.run_id)
        return str(run.info.run_id)

    def _write_state(self, experiment_id: str, run_id: str) -> None:
        """``mlflow.json``; ``own_store`` marks a store inside the folder, wherever it moves."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "tracking_uri": self.tracking_uri,
            "own_store": own_store(self.tracking_uri, self.out_dir),
            "experiment_id": experiment_id,
            "run_id": run_id,
        }
        state_file = self.out_dir / STATE
        tmp = state_file.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(state))
        tmp.replace(state_file)

    def _last_step(self) -> int:
        """The last generation whose fitness metrics the experiment run holds (-1: none)."""
        history = self._client.get_metric_history(self.run_id, f"best_{self._objectives[0]}")
        return max((m.step for m in history), default=-1)

    def _log_generations(self, upto: int, finishing: bool = False) -> None:
        """Log ``best_<objective>`` (best so far) and ``mean_<objective>`` (the generation's mean)
        at ``step=generation`` for the generations after the last logged, up to ``upto``."""
        from mlflow.entities import Metric

        objective = self._objectives[0]
        found, best = [], float("-inf")
        for generation, top, mean in generation_fitness(self._records):
            best = max(best, top)
            if self._stepped < generation <= upto:
                found += [
                    Metric(f"best_{objective}", best, 0, generation),
                    Metric(f"mean_{objective}", mean, 0, generation),
                ]
        self._stepped = max(self._stepped, upto)
        if found:
            job = partial(self._client.log_batch, self.run_id, metrics=found)
            if finishing:  # ``finish`` has closed the sink to ``submit``
                self._queue.put(job)
            else:
                self.submit(job)

    def _tag_winner(self, winner: str) -> None:
        """``evoforum.winner`` on the experiment run, ``evoforum.is_winner`` on the winner's run,
        and a description of the experiment run linking to it."""
        tags = {f"{TAG}winner": winner}
        run_id = self.run_ids.get(winner)
        if run_id is not None:
            self._client.set_tag(run_id, f"{TAG}is_winner", "true")
            tags[f"{TAG}winner_run"] = run_id
            record = self._first.get(winner)
            link = run_link(self._experiment_id, run_id, winner[:SHORT])
            generation = f" (generation {record.generation}, {record.operator})" if record else ""
            tags[NOTE] = f"Winner: {link}{generation}. Its ancestry is drawn in `plots/lineage.png`."
        for key, value in tags.items():
            self._client.set_tag(self.run_id, key, value)

    def _experiment_artifacts(
        self, winner: str | None, metrics: Mapping[str, float], references: Mapping[str, float]
    ) -> None:
        from mlflow.entities import Metric

        if metrics:
            self._client.log_batch(
                self.run_id, metrics=[Metric(k, float(v), 0, 0) for k, v in metrics.items()]
            )
        if winner is not None:
            self._tag_winner(winner)
        pictures = self.out_dir / "plots"
        paths = [
            plots.lineage_graph(self._records, winner, pictures / "lineage.png", self._objectives[0]),
            plots.fitness_over_generations(self._records, pictures / "fitness.png", references=references),
        ]
        if any(len(r.values) >= 2 for r in self._records):
            points = [(r.values[0], r.values[1]) for r in self._records if len(r.values) >= 2]
            cost = self._objectives[1] if len(self._objectives) > 1 else "cost"
            paths.append(plots.cost_quality_front(points, pictures / "pareto.png", cost))
        for path in paths:
            self.artifacts.log_artifact(self.run_id, path, "plots")
