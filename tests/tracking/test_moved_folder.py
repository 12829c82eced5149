"""A run folder keeps its MLflow artifacts when it is moved or copied: its store holds no absolute
path, and ``mlflow ui`` started in the folder serves them (a real server over HTTP)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from evoforum.evolve.lineage import LineageRecord
from evoforum.tracking import CandidateFiles, MlflowLineage
from tests.tracking._mlflow_ui import mlflow_ui

RECORDS = [
    LineageRecord(index=0, genome_hash="a" * 64, parents=(), operator="init", generation=0, values=(0.2,), items=2),
    LineageRecord(
        index=1, genome_hash="b" * 64, parents=("a" * 64,), operator="mutate", generation=1, values=(0.5,), items=2
    ),
]  # fmt: skip


def describe(genome: str) -> CandidateFiles:
    return CandidateFiles(
        genome_json=f'{{"id": "{genome[:4]}"}}', code=f"def run():\n    return {genome[:4]!r}\n"
    )


@pytest.fixture
def moved(tmp_path: Path) -> tuple[Path, MlflowLineage]:
    """A finished run folder with its own store, moved elsewhere."""
    out = tmp_path / "run"
    sink = MlflowLineage(f"sqlite:///{out / 'mlflow.db'}", "exp", out, describe=describe)
    sink.emit(RECORDS)
    sink.finish(elites=["b" * 64])
    target = tmp_path / "elsewhere" / "copied"
    shutil.copytree(out, target)
    shutil.rmtree(out)
    return target, sink


@pytest.fixture
def served(moved: tuple[Path, MlflowLineage]) -> Iterator[str]:
    """``mlflow ui --backend-store-uri sqlite:///mlflow.db`` started in the moved folder; its URL."""
    with mlflow_ui(["--backend-store-uri", "sqlite:///mlflow.db"], moved[0]) as url:
        yield url


def test_the_store_of_a_run_folder_holds_no_absolute_artifact_path(moved: tuple[Path, MlflowLineage]) -> None:
    from mlflow.tracking import MlflowClient

    folder, sink = moved
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    run = client.get_run(sink.run_ids["b" * 64])
    assert run.info.artifact_uri == f"mlflow-artifacts:/{run.info.run_id}/artifacts"
    assert (folder / "mlartifacts" / run.info.run_id / "artifacts" / "workflow.py").exists()


def test_a_moved_run_folder_serves_its_artifacts_through_mlflow_ui(
    moved: tuple[Path, MlflowLineage], served: str, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    _, sink = moved
    client = MlflowClient(served)
    child = sink.run_ids["b" * 64]
    names = {a.path for a in client.list_artifacts(child)}
    assert names == {"genome.json", "workflow.py", "diff_parent_1.diff.txt"}
    diff = Path(client.download_artifacts(child, "diff_parent_1.diff.txt", str(tmp_path))).read_text()
    assert "+    return 'bbbb'" in diff
    pictures = {a.path for a in client.list_artifacts(sink.run_id, "plots")}
    assert {"plots/lineage.png", "plots/fitness.png"} <= pictures
