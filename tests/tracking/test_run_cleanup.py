"""What a run opens for tracking is closed when it ends, also when it fails: the lineage files
and the MLflow run (a real sqlite store in the output folder; an experiment needing no services)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from evoforum.config import ExperimentConfig, validate_config
from evoforum.evolve import Engine
from evoforum.evolve.lineage import read_lineage
from evoforum.run import run_experiment
from tests._files import held_open


def sim() -> ExperimentConfig:
    return validate_config(
        {
            "experiment": {"name": "sim_workflow", "options": {"valid_items": 4, "test_items": 4}},
            "search_space": {"name": "sim_teams"},
            "algorithm": {"population": 4, "offspring": 4, "generations": 2},
        }
    )


def mlflow_status(out: Path) -> str:
    from mlflow.tracking import MlflowClient

    state = orjson.loads((out / "mlflow.json").read_bytes())
    return str(MlflowClient(state["tracking_uri"]).get_run(state["run_id"]).info.status)


pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to see open files")


async def test_a_finished_run_leaves_no_lineage_file_open(tmp_path: Path) -> None:
    out = tmp_path / "run"
    await run_experiment(sim(), out)
    assert read_lineage(out / "lineage.jsonl")
    assert not held_open(out / "lineage.jsonl")
    assert mlflow_status(out) == "FINISHED"


async def test_a_failing_run_closes_its_lineage_file_and_ends_its_mlflow_run_as_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Engine, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the test split could not be scored")

    monkeypatch.setattr(Engine, "score", broken)  # fails after evolution wrote its lineage
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="could not be scored"):
        await run_experiment(sim(), out)
    assert read_lineage(out / "lineage.jsonl")
    assert not held_open(out / "lineage.jsonl")
    assert mlflow_status(out) == "FAILED"
