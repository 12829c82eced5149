"""MLflow's UI, loaded in headless Chromium, shows a run folder's candidates in the runs view.

Chromium is not part of the project's install (Debian: ``apt-get install -y chromium``); without
it these tests are skipped. ``--dump-dom`` prints the page once the UI has rendered it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from evoforum.evolve.lineage import LineageRecord
from evoforum.tracking import CandidateFiles, MlflowLineage
from evoforum.tracking.runs import RUNS_VIEW_QUERY, runs_view_url
from tests.tracking._mlflow_ui import mlflow_ui

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (/usr/bin/chromium), not part of the install"
)
FLAGS = [  # without the background-networking ones Chromium hangs on a closed network
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
RECORDS = [
    LineageRecord(index=0, genome_hash="a" * 64, parents=(), operator="init", generation=0, values=(0.2,), items=2),
    LineageRecord(index=1, genome_hash="b" * 64, parents=(), operator="init", generation=0, values=(0.3,), items=2),
    LineageRecord(
        index=2, genome_hash="c" * 64, parents=("a" * 64, "b" * 64), operator="cx_tasks", generation=1,
        values=(0.5,), items=2,
    ),
]  # fmt: skip


def describe(genome: str) -> CandidateFiles:
    return CandidateFiles(genome_json="{}", code=f"def run():\n    return {genome[:4]!r}\n")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, MlflowLineage]]:
    """A finished run folder, served by ``mlflow ui`` as the README starts it; URL and sink."""
    out = tmp_path_factory.mktemp("browse") / "run"
    sink = MlflowLineage(f"sqlite:///{out / 'mlflow.db'}", "exp", out, run_name="run", describe=describe)
    sink.emit(RECORDS)
    sink.finish(elites=["c" * 64])
    args = ["--backend-store-uri", "sqlite:///run/mlflow.db", "--artifacts-destination", "run/mlartifacts"]
    with mlflow_ui(args, out.parent) as url:
        yield url, sink


def experiment_of(sink: MlflowLineage) -> str:
    return str(json.loads((sink.out_dir / "mlflow.json").read_text())["experiment_id"])


def dom(url: str, tmp_path: Path) -> str:
    """The page at ``url`` as Chromium renders it (a fresh profile: a first visit)."""
    argv = [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=30000",
            "--dump-dom", url]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, check=True).stdout


def test_a_first_visit_to_the_printed_address_opens_the_runs_view(
    served: tuple[str, MlflowLineage], tmp_path: Path
) -> None:
    url, sink = served
    page = dom(runs_view_url(experiment_of(sink), url), tmp_path)
    assert ">Runs<" in page  # the runs view, not the GenAI overview a first visit gets by default
    assert ">run<" in page  # the experiment run


def test_a_candidates_run_page_shows_its_name_and_its_parents(
    served: tuple[str, MlflowLineage], tmp_path: Path
) -> None:
    url, sink = served
    run_id = sink.run_ids["c" * 64]
    page = dom(f"{url}/#/experiments/{experiment_of(sink)}/runs/{run_id}?{RUNS_VIEW_QUERY}", tmp_path)
    assert "g1-cccccccccc" in page
    assert "aaaaaaaaaa" in page
    assert "bbbbbbbbbb" in page
    assert "diff_parent_2.diff.txt" in page
