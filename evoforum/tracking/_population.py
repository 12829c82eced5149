"""``PopulationLineage``: another population's lineage in the experiment's MLflow run.

Populations that evolve beside the workflow candidates (the co-evolved operator genomes of the
LLM operators) log like candidates: one run per genome nested under the experiment run, carrying
the pinned tags (``evoforum.genome_hash``, ``evoforum.parent_runs`` — the runs of its parents in
the same population —, ``evoforum.operator``, ``evoforum.generation``, ``evoforum.transcripts``),
``evoforum.population=<name>`` and any further tags given; artifacts: its genome JSON (indented)
and the diff of that JSON against each parent's. Its fitness values are metrics at step
``items`` (for operator genomes: improvement after so many credited children), and a later
record of a genome already logged adds a step to them, so the metric follows the credit.

Its records never enter the candidates' lineage, plots or elites. Which run each genome went to
is kept in the owner's ``mlflow_runs.jsonl`` with ``"population": name``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING

import orjson

from evoforum.evolve.lineage import LineageRecord
from evoforum.tracking.runs import TAG, Describe, log_parent_diffs, log_transcripts, pinned_tags, read_runs

if TYPE_CHECKING:
    from evoforum.tracking.mlflow_sink import MlflowLineage

GENOME = "genome.json"


class PopulationLineage:
    """A ``LineageSink`` whose records become runs of population ``name``; see the module docstring."""

    def __init__(
        self,
        owner: MlflowLineage,
        name: str,
        tags: Mapping[str, str],
        describe: Describe | None,
        metrics: tuple[str, ...],
        count: str = "items",
    ) -> None:
        self.owner = owner
        self.name = name
        self.tags = {**tags, f"{TAG}population": name}
        self._describe = describe
        self._metrics = metrics
        self._count = count
        self.run_ids: dict[str, str] = read_runs(owner.out_dir / "mlflow_runs.jsonl", name)
        self._json: dict[str, str | None] = {}

    def emit(self, records: Sequence[LineageRecord]) -> None:
        batch = []
        for record in records:  # the artifacts' text is made here, on the calling thread
            text = self._genome_json(record.genome_hash)
            before = tuple(self._genome_json(p) if text else None for p in record.parents)
            batch.append((record, text, before))
        if batch:
            self.owner.submit(partial(self._log, batch))

    def close(self) -> None:
        """Nothing of its own to close: the owner's ``finish`` drains the logging thread."""

    # -- the logging thread -------------------------------------------------------------------

    def _log(self, batch: Sequence[tuple[LineageRecord, str | None, tuple[str | None, ...]]]) -> None:
        for record, text, before in batch:
            run_id = self.run_ids.get(record.genome_hash)
            if run_id is None:
                self._create(record, text, before)
            else:
                self._update(run_id, record)

    def _create(self, record: LineageRecord, text: str | None, before: Sequence[str | None]) -> None:
        tags = {**pinned_tags(record, self.run_ids), **self.tags}
        name = f"{self.name}-g{record.generation}-{record.genome_hash[:10]}"
        run_id = self.owner.nested_run(tags, name)
        self._update(run_id, record)
        log_transcripts(self.owner.artifacts, run_id, record)
        self._artifacts(run_id, record, text, before)
        self.owner.client.set_terminated(run_id)
        self.run_ids[record.genome_hash] = run_id
        self.owner.remember(record.genome_hash, run_id, self.name)

    def _update(self, run_id: str, record: LineageRecord) -> None:
        from mlflow.entities import Metric

        names = [*self._metrics, *(f"objective_{i}" for i in range(len(self._metrics), len(record.values)))]
        found = [
            Metric(name, value, 0, record.items) for name, value in zip(names, record.values, strict=False)
        ]
        found.append(Metric(self._count, float(record.items), 0, record.items))
        self.owner.client.log_batch(run_id, metrics=found)

    def _artifacts(
        self, run_id: str, record: LineageRecord, text: str | None, before: Sequence[str | None]
    ) -> None:
        if text is None:
            return
        self.owner.artifacts.log_text(run_id, text, GENOME)
        log_parent_diffs(self.owner.artifacts, run_id, record, before, text, ".json")

    def _genome_json(self, genome_hash: str) -> str | None:
        """The genome's JSON, indented with sorted keys so that a diff shows the changed fields."""
        if genome_hash not in self._json:
            files = self._describe(genome_hash) if self._describe is not None else None
            self._json[genome_hash] = _indented(files.genome_json) if files is not None else None
        return self._json[genome_hash]


def _indented(text: str) -> str:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"
