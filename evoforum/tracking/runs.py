"""What a candidate's MLflow run carries, and which genome went to which run.

The tags docs/design.md "Lineage in MLflow" pins on every candidate run (transcripts too many for
MLflow's tag limit move to an artifact the tag names), the files logged as its artifacts (a diff
against each parent among them), and ``mlflow_runs.jsonl``, the output folder's record of run ids
by genome hash and population.
Shared by ``mlflow_sink`` (the workflow candidates) and ``_population`` (other populations).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from evoforum.evolve.lineage import LineageRecord
from evoforum.tracking.artifacts import RunArtifacts

TAG = "evoforum."
"""The prefix of every tag evoforum sets on a run."""
WORKFLOWS = "workflows"
"""The population of workflow candidates (the ``evoforum.population`` tag of their runs)."""
TAG_LIMIT = 8000
"""MLflow's longest tag value (``MAX_TAG_VAL_LENGTH``); a Postgres- or MySQL-backed server refuses more."""
TRANSCRIPTS_FILE = "transcripts.json"
"""The artifact holding a run's transcripts when they do not fit its tag."""
NOTE = "mlflow.note.content"
"""The tag MLflow's UI shows, as Markdown, as a run's description."""
SHORT = 10
"""Characters of a genome hash in run names and descriptions."""


def diff_artifact(position: int) -> str:
    """``diff_parent_2.diff.txt``: the artifact holding the diff against a record's parent at
    ``position`` (counted from 1, in the order of ``LineageRecord.parents``). ``.txt``: MLflow's UI
    previews text by extension and has no viewer for ``.patch`` or ``.diff``."""
    return f"diff_parent_{position}.diff.txt"


@dataclass(frozen=True)
class CandidateFiles:
    """What is logged as a candidate's artifacts: its genome as JSON and, if it has one, its code."""

    genome_json: str
    code: str | None = None


Describe = Callable[[str], CandidateFiles | None]


def run_name(record: LineageRecord, prefix: str = "") -> str:
    """``g3-0123456789``: the run of a record, by generation and short genome hash."""
    return f"{prefix}g{record.generation}-{record.genome_hash[:SHORT]}"


RUNS_VIEW_QUERY = "workflowType=machine_learning"
"""The query that keeps MLflow's UI in its runs view ("Model training"). MLflow 3.17's UI takes the
view from the URL, else from the browser's last choice (GenAI, on a first visit), and no longer
from the experiment's ``mlflow.experimentKind`` tag."""


def run_link(experiment_id: str, run_id: str, text: str) -> str:
    """A Markdown link to a run, relative so that it works in MLflow's UI wherever it is served
    (and in its runs view, ``RUNS_VIEW_QUERY``)."""
    return f"[{text}](#/experiments/{experiment_id}/runs/{run_id}?{RUNS_VIEW_QUERY})"


def runs_view_url(experiment_id: str, server: str = "http://127.0.0.1:5000") -> str:
    """The address of an experiment's runs view in MLflow's UI served at ``server``."""
    return f"{server}/#/experiments/{experiment_id}?{RUNS_VIEW_QUERY}"


def score(record: LineageRecord | None, objective: str) -> str:
    """``quality 0.62 on 8 items``, or ``not scored``."""
    if record is None or not record.values:
        return "not scored"
    return f"{objective} {record.values[0]:.4g} on {record.items} items"


def description(
    record: LineageRecord,
    parents: Sequence[LineageRecord | None],
    run_ids: Mapping[str, str],
    experiment_id: str,
    objective: str,
    first_run: str | None = None,
) -> str:
    """The Markdown description (``NOTE``) of a candidate run: its operator, generation and score,
    then each parent as a link to its run with its operator and score; a record of a genome
    logged before (``first_run``, a re-selection) links to that run instead."""
    head = f"**{record.operator}** · generation {record.generation} · {score(record, objective)}"
    if first_run is not None:
        again = run_link(experiment_id, first_run, record.genome_hash[:SHORT])
        return f"{head}\n\nEvaluated again (cached: {record.cached}): the genome of run {again}."
    if not record.parents:
        return f"{head}\n\nNo parents: a genome of the first population."
    lines = [head, "", "Parents (each with the artifact holding the diff against it):", ""]
    for genome_hash, parent in zip(record.parents, parents, strict=True):
        short = genome_hash[:SHORT]
        run_id = run_ids.get(genome_hash)
        name = run_link(experiment_id, run_id, short) if run_id else f"{short} (no run)"
        operator = parent.operator if parent is not None else "unknown"
        diff = diff_artifact(record.parents.index(genome_hash) + 1)  # a parent named twice: one diff
        lines.append(f"- {name} · {operator} · {score(parent, objective)} · `{diff}`")
    return "\n".join(lines)


def pinned_tags(record: LineageRecord, run_ids: Mapping[str, str]) -> dict[str, str]:
    """The tags docs/design.md "Lineage in MLflow" pins on a candidate run (parents resolved through
    ``run_ids``)."""
    parent_runs = [run_ids[p] for p in record.parents if p in run_ids]
    return {
        f"{TAG}genome_hash": record.genome_hash,
        f"{TAG}parent_runs": ",".join(parent_runs),
        f"{TAG}operator": record.operator,
        f"{TAG}generation": str(record.generation),
        f"{TAG}transcripts": transcripts_tag(record.transcripts),
    }


def transcripts_tag(transcripts: Sequence[str]) -> str:
    """The ``evoforum.transcripts`` tag: the hashes, comma-separated, when they fit ``TAG_LIMIT``;
    else a reference to the ``TRANSCRIPTS_FILE`` artifact that holds them (``log_transcripts``)."""
    joined = ",".join(transcripts)
    if len(joined) <= TAG_LIMIT:
        return joined
    return f"artifact:{TRANSCRIPTS_FILE} ({len(transcripts)} hashes)"


def log_transcripts(artifacts: RunArtifacts, run_id: str, record: LineageRecord) -> None:
    """Log the record's transcripts as the ``TRANSCRIPTS_FILE`` artifact (a JSON list, through
    ``artifacts``) when its tag holds a reference to it rather than the hashes."""
    if len(",".join(record.transcripts)) > TAG_LIMIT:
        artifacts.log_text(run_id, orjson.dumps(list(record.transcripts)).decode(), TRANSCRIPTS_FILE)


def log_parent_diffs(
    artifacts: RunArtifacts,
    run_id: str,
    record: LineageRecord,
    before: Sequence[str | None],
    after: str,
    suffix: str,
) -> None:
    """Log the diff of ``after`` (the record's genome as text: code or JSON) against each parent's
    text in ``before`` (in the order of ``record.parents``; None: not known, no diff), as the
    ``diff_artifact`` of that parent's position; a parent named twice gets one. The diff's file
    names are ``parent/<hash><suffix>`` and ``child/<hash><suffix>``."""
    seen: set[str] = set()
    for position, (parent, text) in enumerate(zip(record.parents, before, strict=True), 1):
        if text is None or parent in seen:
            continue
        seen.add(parent)
        diff = unified_diff(text, after, f"parent/{parent}{suffix}", f"child/{record.genome_hash}{suffix}")
        artifacts.log_text(run_id, diff, diff_artifact(position))


def unified_diff(before: str, after: str, fromfile: str, tofile: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), fromfile=fromfile, tofile=tofile
    )
    return "".join(lines)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a ``mlflow_runs.jsonl``: ``genome_hash``, ``run_id``, and where present the
    lineage ``index`` of the record, ``repeat`` (a later record of a genome logged before) and
    ``population`` (absent for workflow candidates)."""
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def read_runs(path: Path, population: str = WORKFLOWS) -> dict[str, str]:
    """Genome hash -> the first run id of ``population``, from a ``mlflow_runs.jsonl``."""
    return {
        row["genome_hash"]: row["run_id"]
        for row in read_rows(path)
        if row.get("population", WORKFLOWS) == population and not row.get("repeat")
    }
