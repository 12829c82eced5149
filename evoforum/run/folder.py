"""The output folder of a run: what is in it, and how it is written and read back.

::

    DIR/config.yaml        the resolved config (``resume DIR`` needs nothing else)
    DIR/run.json           where the run's services were (forum store URL or state folder)
    DIR/checkpoint.pkl     engine state after each generation; cache.journal: every item result
    DIR/lineage.jsonl      one record per evaluated candidate
    DIR/genomes.jsonl      every genome seen, as JSON, by hash
    DIR/coevolution.jsonl  lineage of the co-evolved operator genomes (``operators.coevolve``)
    DIR/mlflow.db          MLflow (sqlite) unless tracking.mlflow_uri names another server
    DIR/progress.json      time and LLM use so far (added up across resumes)
    DIR/reports.jsonl      the experiment's report (e.g. regret) of the best so far, per generation
    DIR/summary.json       the report (``RunSummary``); DIR/winner.py: the winner as code
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import orjson
import yaml
from pydantic import BaseModel, ConfigDict

from evoforum._files import write_atomic
from evoforum.config import ExperimentConfig, load_config
from evoforum.errors import ConfigError
from evoforum.evolve import Operators
from evoforum.evolve.checkpoint import FILENAME as CHECKPOINT
from evoforum.evolve.checkpoint import load_checkpoint
from evoforum.evolve.lineage import read_lineage
from evoforum.evolve.variation import settle


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BestSummary(_Record):
    """The winner: its scores (None: it failed on that split), fitness, origin and exported hash."""

    genome_hash: str
    valid_score: float | None
    test_score: float | None
    values: list[float]
    operator: str
    generation: int
    exported_hash: str
    """The hash of the genome ``winner.py`` holds (a ``best_of_n`` sample's seed workflow)."""
    test_tokens_per_item: float | None = None
    """Model tokens (prompt and completion) per test item, on average (None: no model)."""


class BaselineSummary(_Record):
    """An experiment's baseline genome, scored on the test split like the winner."""

    genome_hash: str
    test_score: float
    tokens_per_item: float | None = None
    """Model tokens per test item, on average (None: no model)."""


class GenerationSummary(_Record):
    """The engine's winner after one generation and the work done so far."""

    generation: int
    best: list[float]
    evaluations: int
    jobs: int
    best_hash: str | None


class MlflowSummary(_Record):
    tracking_uri: str
    run_id: str


class RunSummary(_Record):
    """What ``summary.json`` holds: the report of a finished run (``configs/summary.schema.json``).

    ``best.genome_hash``, ``best.valid_score``, ``best.test_score``, ``evaluations``, ``llm_calls``,
    ``llm_tokens``, ``mlflow.tracking_uri``, ``mlflow.run_id`` and ``wall_s`` are the contract that
    users and scripts rely on. ``coevolution`` is written only by runs that co-evolve operators.
    """

    experiment: str
    search_space: str | None
    algorithm: str
    objectives: list[str]
    best: BestSummary
    baselines: dict[str, BaselineSummary]
    report: dict[str, Any]
    report_history: list[Any]
    evaluations: int
    """Candidates evaluated (on the valid split)."""
    item_evaluations: int
    """Item evaluations (candidate x item) run by the engine."""
    generations: int
    stopped: str
    """Why the run ended: ``generations``, ``budget`` (evaluations), ``wall_s``, ``llm_budget``..."""
    llm_calls: int
    llm_tokens: int
    llm_cost_usd: float
    search_llm_calls: int | None = None
    """Model calls the search made (operators included), before the test split was scored."""
    search_llm_tokens: int | None = None
    """Model tokens the search spent (operators included): the budget an equal-budget baseline gets."""
    llm_cache_hits: int
    operators: dict[str, Any]
    coevolution: dict[str, Any] | None = None
    splits: dict[str, int]
    history: list[GenerationSummary]
    mlflow: MlflowSummary
    wall_s: float

    def to_json(self) -> dict[str, Any]:
        """The data of ``summary.json`` (without ``coevolution`` when the run had none)."""
        return self.model_dump(exclude={"coevolution"} if self.coevolution is None else None)


def summary_schema() -> dict[str, Any]:
    """The JSON schema of ``summary.json`` (``configs/summary.schema.json``)."""
    schema = RunSummary.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "evoforum run summary"
    return schema


@dataclass(frozen=True)
class RunFolder:
    """The output folder ``path`` of one run; its file names, and reading and writing them."""

    path: Path

    CONFIG: ClassVar[str] = "config.yaml"
    RUN: ClassVar[str] = "run.json"
    SUMMARY: ClassVar[str] = "summary.json"
    WINNER: ClassVar[str] = "winner.py"
    GENOMES: ClassVar[str] = "genomes.jsonl"
    PROGRESS: ClassVar[str] = "progress.json"
    LINEAGE: ClassVar[str] = "lineage.jsonl"
    REPORTS: ClassVar[str] = "reports.jsonl"
    COEVOLUTION: ClassVar[str] = "coevolution.jsonl"
    MLFLOW_DB: ClassVar[str] = "mlflow.db"
    MLFLOW_RUNS: ClassVar[str] = "mlflow_runs.jsonl"
    RAY: ClassVar[str] = "ray"

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def holds_run(self) -> bool:
        """Whether a run was started here already (its config or a checkpoint is there)."""
        return (self / self.CONFIG).exists() or (self / CHECKPOINT).exists()

    def save_config(self, config: ExperimentConfig) -> None:
        text = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
        write_atomic(self / self.CONFIG, text.encode())

    def read_config(self) -> ExperimentConfig:
        """The run's config; ``ConfigError`` when this is no run folder."""
        if not (self / self.CONFIG).exists():
            raise ConfigError(
                f"{self.path}: not a run folder (no {self.CONFIG}); start one with 'evoforum run'"
            )
        return load_config(self / self.CONFIG)

    def write_json(self, name: str, data: Any, *, durable: bool = True) -> None:
        """Write ``data`` whole (``durable``: fsynced too, see ``write_atomic``)."""
        text = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
        write_atomic(self / name, text, durable=durable)

    def read_json(self, name: str, default: Any = None) -> Any:
        path = self / name
        if not path.exists():
            return default
        try:
            return orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as error:
            raise ConfigError(f"{path}: damaged ({error})") from None

    def append_json(self, name: str, row: Any) -> None:
        with (self / name).open("ab") as handle:
            handle.write(orjson.dumps(row) + b"\n")

    def read_jsonl(self, name: str) -> list[Any]:
        """The complete rows of a JSONL file, the last one per ``generation`` when rows have one."""
        path = self / name
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

    def write_summary(self, summary: RunSummary) -> None:
        self.write_json(self.SUMMARY, summary.to_json())

    def read_summary(self) -> dict[str, Any]:
        """``summary.json`` as JSON data; ``ConfigError`` while the run has not finished."""
        summary = self.read_json(self.SUMMARY)
        if summary is None:
            self.read_config()  # a clear error when this is no run folder at all
            raise ConfigError(
                f"{self.path}: the run has not finished (no {self.SUMMARY}); 'evoforum resume {self.path}' finishes it"
            )
        assert isinstance(summary, dict)
        return summary

    def winner_hash(self) -> str:
        """The winner's genome hash (while the run goes on: its best so far, from the checkpoint)."""
        summary = self.read_json(self.SUMMARY)
        if summary is not None:
            return str(summary["best"]["genome_hash"])
        self.read_config()
        state = load_checkpoint(self.path)
        best = max(state["archive"], key=lambda ind: ind.fitness) if state and state["archive"] else None
        if best is None:
            raise ConfigError(f"{self.path}: no candidate has been evaluated yet")
        return str(best.hash)


class GenomeBook:
    """Every genome of a run by hash: in memory, and appended to ``genomes.jsonl`` as JSON
    (``describe`` makes the JSON text of a genome)."""

    def __init__(self, path: Path, describe: Callable[[Any], str]) -> None:
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

    def remember_checkpoint(self, state: dict[str, Any]) -> None:
        """The genomes of a checkpoint (a resumed run's population and archive)."""
        for island in state["population"]:
            for ind in island:
                self.remember(ind.genome)
        for ind in state["archive"]:
            self.remember(ind.genome)

    def remembering(self, operators: Operators) -> Operators:
        """``operators`` whose every output genome is remembered here (for tracking and export)."""

        async def init(rng: Any) -> Any:
            return self.remember(await settle(operators.init(rng)))

        async def mutate(genome: Any, rng: Any) -> Any:
            return self.remember(await settle(operators.mutate(genome, rng)))

        async def crossover(a: Any, b: Any, rng: Any) -> Any:
            assert operators.crossover is not None
            one, two = await settle(operators.crossover(a, b, rng))
            return self.remember(one), self.remember(two)

        init.__name__, mutate.__name__ = "init", operators.mutate_name
        crossover.__name__ = operators.crossover_name
        return Operators(
            init=init,
            mutate=mutate,
            crossover=crossover if operators.crossover else None,
            label=operators.label,
        )


def lineage_rows(out: Path) -> list[dict[str, Any]]:
    """The winner's ancestry in run folder ``out``, newest first down to the seeds: one row per
    ancestor (generation, operator, fitness, MLflow run id, transcript, genome and parents)."""
    from evoforum.tracking import ancestry
    from evoforum.tracking.runs import read_runs

    folder = RunFolder(out)
    records = read_lineage(folder / folder.LINEAGE)
    if not records:
        folder.read_config()
        raise ConfigError(f"{out}: no lineage yet")
    runs = read_runs(folder / folder.MLFLOW_RUNS)
    book = GenomeBook(folder / folder.GENOMES, str)
    rows = []
    for record in ancestry(records, folder.winner_hash()):
        operator = record.operator
        detail = _origin_operator(book.json.get(record.genome_hash))
        if detail and detail not in operator:
            operator = f"{operator}:{detail}"
        rows.append(
            {
                "generation": record.generation,
                "operator": operator,
                "fitness": f"{record.values[0]:.4g}" if record.values else "-",
                "run_id": runs.get(record.genome_hash),
                "transcript": record.transcripts[0] if record.transcripts else None,
                "genome": record.genome_hash,
                "parents": list(record.parents),
            }
        )
    return rows


def _origin_operator(text: str | None) -> str | None:
    if not text:
        return None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    origin = data.get("metadata", {}).get("origin", {}) if isinstance(data, dict) else {}
    found = origin.get("operator") if isinstance(origin, dict) else None
    return str(found) if found else None
