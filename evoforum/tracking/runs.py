"""What a candidate's MLflow run carries, and which genome went to which run.

The tags docs/design.md "Lineage in MLflow" pins on every candidate run (transcripts too many for
MLflow's tag limit move to an artifact the tag names), the files logged as its artifacts, and ``mlflow_runs.jsonl``, the output folder's record of run ids by genome hash and
population.
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

TAG = "evoforum."
"""The prefix of every tag evoforum sets on a run."""
WORKFLOWS = "workflows"
"""The population of workflow candidates (the ``evoforum.population`` tag of their runs)."""
TAG_LIMIT = 8000
"""MLflow's longest tag value (``MAX_TAG_VAL_LENGTH``); a Postgres- or MySQL-backed server refuses more."""
TRANSCRIPTS_FILE = "transcripts.json"
"""The artifact holding a run's transcripts when they do not fit its tag."""


@dataclass(frozen=True)
class CandidateFiles:
    """What is logged as a candidate's artifacts: its genome as JSON and, if it has one, its code."""

    genome_json: str
    code: str | None = None


Describe = Callable[[str], CandidateFiles | None]


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


def log_transcripts(client: Any, run_id: str, record: LineageRecord) -> None:
    """Log the record's transcripts as the ``TRANSCRIPTS_FILE`` artifact (a JSON list) when its
    tag holds a reference to it rather than the hashes themselves."""
    if len(",".join(record.transcripts)) > TAG_LIMIT:
        client.log_text(run_id, orjson.dumps(list(record.transcripts)).decode(), TRANSCRIPTS_FILE)


def unified_diff(before: str, after: str, fromfile: str, tofile: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), fromfile=fromfile, tofile=tofile
    )
    return "".join(lines)


def read_runs(path: Path, population: str = WORKFLOWS) -> dict[str, str]:
    """Genome hash -> run id of ``population``, from a ``mlflow_runs.jsonl``."""
    if not path.exists():
        return {}
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    return {
        row["genome_hash"]: row["run_id"] for row in rows if row.get("population", WORKFLOWS) == population
    }
