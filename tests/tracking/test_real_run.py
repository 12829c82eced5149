"""A finished run as a user browses it: its lineage and its MLflow runs agree one to one, the
winner's run is tagged, and the README's ``mlflow ui`` command serves its artifacts."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import orjson
import pytest

from evoforum.config import ExperimentConfig, validate_config
from evoforum.evolve.lineage import read_lineage
from evoforum.run import run_experiment
from tests.tracking._mlflow_ui import mlflow_ui

README = Path(__file__).resolve().parents[2] / "README.md"


def sim() -> ExperimentConfig:
    return validate_config(
        {
            "experiment": {"name": "sim_workflow", "options": {"valid_items": 4, "test_items": 4}},
            "search_space": {"name": "sim_teams"},
            "algorithm": {"population": 4, "offspring": 4, "generations": 3},
        }
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "q"
    asyncio.run(run_experiment(sim(), out))
    return out


def workflow_runs(out: Path) -> list:
    from mlflow.tracking import MlflowClient

    state = orjson.loads((out / "mlflow.json").read_bytes())
    client = MlflowClient(state["tracking_uri"])
    return client.search_runs(
        [state["experiment_id"]], filter_string="tags.`evoforum.population` = 'workflows'", max_results=1000
    )


def test_every_lineage_record_has_one_mlflow_run(finished: Path) -> None:
    records = read_lineage(finished / "lineage.jsonl")
    runs = workflow_runs(finished)
    assert len(runs) == len(records)
    by_record = sorted((r.genome_hash, r.generation) for r in records)
    by_run = sorted(
        (run.data.tags["evoforum.genome_hash"], int(run.data.tags["evoforum.generation"])) for run in runs
    )
    assert by_run == by_record
    winners = [run for run in runs if run.data.tags.get("evoforum.is_winner") == "true"]
    summary = orjson.loads((finished / "summary.json").read_bytes())
    assert [run.data.tags["evoforum.genome_hash"] for run in winners] == [summary["best"]["genome_hash"]]


def test_the_readmes_mlflow_command_serves_a_candidates_artifacts(finished: Path) -> None:
    from mlflow.tracking import MlflowClient

    command = re.search(r"^\.venv/bin/mlflow ui (.*) --port 5000$", README.read_text(), re.MULTILINE)
    assert command is not None
    args = command.group(1).replace("runs/q", str(finished.relative_to(finished.parent.parent)))
    with mlflow_ui(args.split(), finished.parent.parent) as url:
        client = MlflowClient(url)
        child = workflow_runs(finished)[-1].info.run_id
        assert {a.path for a in client.list_artifacts(child)} >= {"genome.json"}
        text = client.download_artifacts(child, "genome.json", str(finished.parent / "fetched"))
        assert orjson.loads(Path(text).read_bytes())
