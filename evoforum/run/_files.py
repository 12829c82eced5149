"""The output folder of a run: what is in it and how it is read back.

::

    DIR/config.yaml        the resolved config (``resume DIR`` needs nothing else)
    DIR/run.json           where the run's services were (forum store URL or state folder)
    DIR/checkpoint.pkl     engine state after each generation; cache.journal: every item result
    DIR/lineage.jsonl      one record per evaluated candidate
    DIR/genomes.jsonl      every genome seen, as JSON, by hash
    DIR/mlflow.db          MLflow (sqlite) unless tracking.mlflow_uri names another server
    DIR/progress.json      time and LLM use so far (added up across resumes)
    DIR/reports.jsonl      the experiment's report (e.g. regret) of the best so far, per generation
    DIR/summary.json       the report; DIR/winner.py: the winner as code
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import yaml

from evoforum._files import write_atomic
from evoforum.config import ExperimentConfig, load_config
from evoforum.errors import ConfigError

CONFIG, RUN, SUMMARY, WINNER, GENOMES, PROGRESS, LINEAGE, REPORTS = (
    "config.yaml",
    "run.json",
    "summary.json",
    "winner.py",
    "genomes.jsonl",
    "progress.json",
    "lineage.jsonl",
    "reports.jsonl",
)


def save_config(out: Path, config: ExperimentConfig) -> None:
    text = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    write_atomic(out / CONFIG, text.encode())


def read_config(out: Path) -> ExperimentConfig:
    if not (out / CONFIG).exists():
        raise ConfigError(f"{out}: not a run folder (no {CONFIG}); start one with 'evoforum run'")
    return load_config(out / CONFIG)


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))


def read_json(path: Path, default: Any = None) -> Any:
    if not path.exists():
        return default
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise ConfigError(f"{path}: damaged ({error})") from None


def append_json(path: Path, row: Any) -> None:
    with path.open("ab") as handle:
        handle.write(orjson.dumps(row) + b"\n")


def read_jsonl(path: Path) -> list[Any]:
    """The complete rows of a JSONL file, the last one per ``generation`` when rows have one."""
    if not path.exists():
        return []
    rows: dict[Any, Any] = {}
    for index, line in enumerate(path.read_bytes().splitlines()):
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # a torn last line of a killed run
        rows[row.get("generation", index) if isinstance(row, dict) else index] = row
    return list(rows.values())


def read_summary(out: Path) -> dict[str, Any]:
    summary = read_json(out / SUMMARY)
    if summary is None:
        read_config(out)  # a clear error when this is no run folder at all
        raise ConfigError(
            f"{out}: the run has not finished (no {SUMMARY}); 'evoforum resume {out}' finishes it"
        )
    assert isinstance(summary, dict)
    return summary


class GenomeBook:
    """Every genome of a run by hash: in memory, and appended to ``genomes.jsonl`` as JSON."""

    def __init__(self, path: Path, describe: Any) -> None:
        self.path = path
        self.describe = describe
        self.genomes: dict[str, Any] = {}
        self.json: dict[str, str] = {}
        if path.exists():
            for line in path.read_bytes().splitlines():
                if line.strip():
                    try:
                        row = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        continue  # a torn last line of a killed run
                    self.json[row["hash"]] = row["json"]

    def remember(self, genome: Any) -> Any:
        key = str(genome.hash)
        if key not in self.genomes:
            self.genomes[key] = genome
            if key not in self.json:
                text = self.describe(genome)
                self.json[key] = text
                with self.path.open("ab") as handle:
                    handle.write(orjson.dumps({"hash": key, "json": text}) + b"\n")
        return genome
