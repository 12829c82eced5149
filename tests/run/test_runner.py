"""The runner on experiments that need no services: summary, lineage, export, baselines, budgets."""

from __future__ import annotations

import subprocess
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import orjson
import pytest

from evoforum.config import ExperimentConfig, validate_config
from evoforum.errors import ConfigError
from evoforum.evolve.lineage import read_lineage
from evoforum.run import (
    RunFolder,
    RunSummary,
    StopFlag,
    design,
    lineage_rows,
    plan,
    run_experiment,
    winner_source,
)
from evoforum.run.experiment import _evaluator
from evoforum.run.resources import Resources
from experiments import sim_workflow as sim

SIM = {
    "experiment": {"name": "sim_workflow", "options": {"valid_items": 10, "test_items": 20}},
    "search_space": {"name": "sim_teams"},
    "algorithm": {"population": 6, "offspring": 6, "generations": 3},
    "tracking": {"log": "elites"},
}


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def run_module(source: str, path: Path) -> str:
    """Write ``source`` to ``path``, run it from the repository root, and return what it printed."""
    path.write_text(source, encoding="utf-8")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, check=True, cwd=root)
    return done.stdout


def config(base: dict[str, Any], **sections: Any) -> ExperimentConfig:
    data = {key: dict(value) if isinstance(value, dict) else value for key, value in base.items()}
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    return validate_config(data)


async def test_summary_has_the_promised_fields(tmp_path: Path) -> None:
    summary = await run_experiment(config(SIM), tmp_path / "run")
    for key in ("evaluations", "llm_calls", "llm_tokens", "wall_s"):
        assert key in summary
    assert set(summary["best"]) >= {"genome_hash", "valid_score", "test_score"}
    assert summary["mlflow"]["tracking_uri"].startswith("sqlite:///")
    assert summary["mlflow"]["run_id"]
    on_disk = orjson.loads((tmp_path / "run" / "summary.json").read_bytes())
    assert on_disk["best"]["genome_hash"] == summary["best"]["genome_hash"]
    assert summary["llm_calls"] == 0
    assert summary["report"]["regret"] >= 0


async def test_regret_is_reported_for_every_generation(tmp_path: Path) -> None:
    summary = await run_experiment(config(SIM), tmp_path / "run")
    history = summary["report_history"]
    assert [row["generation"] for row in history] == [0, 1, 2, 3]
    jobs = [row["jobs"] for row in history]
    assert jobs == sorted(jobs)
    assert all(row["regret"] >= 0 for row in history)
    assert history[-1]["regret"] == pytest.approx(summary["report"]["regret"])


async def test_selection_never_sees_the_test_split(tmp_path: Path) -> None:
    await run_experiment(config(SIM), tmp_path / "run")
    records = read_lineage(tmp_path / "run" / "lineage.jsonl")
    valid_items = 10 * len(sim.DIFFICULTIES)
    assert {record.items for record in records} == {valid_items}


async def test_lineage_walks_from_the_winner_to_a_seed(tmp_path: Path) -> None:
    summary = await run_experiment(config(SIM), tmp_path / "run")
    rows = lineage_rows(tmp_path / "run")
    assert rows[0]["genome"] == summary["best"]["genome_hash"]
    assert rows[-1]["generation"] == 0
    assert rows[-1]["operator"] == "init"
    assert all(row["run_id"] for row in rows)  # elites and their ancestry are in MLflow
    hashes = {row["genome"] for row in rows}
    assert all(set(row["parents"]) <= hashes for row in rows)


async def test_exported_winner_runs_and_prints_its_true_utility(tmp_path: Path) -> None:
    summary = await run_experiment(config(SIM), tmp_path / "run")
    source = winner_source(tmp_path / "run")
    assert source == read(tmp_path / "run" / "winner.py")
    output = run_module(source, tmp_path / "winner.py")
    assert float(output) == pytest.approx(summary["report"]["true_utility"])


async def test_a_folder_holding_a_run_is_not_overwritten(tmp_path: Path) -> None:
    await run_experiment(config(SIM), tmp_path / "run")
    before = (tmp_path / "run" / "summary.json").read_bytes()
    with pytest.raises(ConfigError, match="already holds a run"):
        await run_experiment(config(SIM), tmp_path / "run")
    assert (tmp_path / "run" / "summary.json").read_bytes() == before


@pytest.mark.parametrize("kind", ["random_search", "best_of_n"])
async def test_baselines_spend_the_same_budget(tmp_path: Path, kind: str) -> None:
    evolved = await run_experiment(config(SIM), tmp_path / "evolved")
    baseline = await run_experiment(config(SIM, algorithm={"kind": kind}), tmp_path / kind)
    assert baseline["evaluations"] == evolved["evaluations"]
    operators = {record.operator for record in read_lineage(tmp_path / kind / "lineage.jsonl")}
    assert operators <= {"init", "random", "sample"}
    if kind == "best_of_n":  # every sample is the seed workflow
        assert baseline["report"]["true_utility"] == pytest.approx(sim.true_utility(sim.seed_team(None)))  # type: ignore[arg-type]


async def test_evaluation_budget_stops_the_run_early(tmp_path: Path) -> None:
    items = 10 * len(sim.DIFFICULTIES)
    summary = await run_experiment(
        config(SIM, budget={"evaluations": items * 8}, algorithm={"generations": 10}), tmp_path / "run"
    )
    assert summary["stopped"] == "budget"
    assert summary["generations"] < 10


async def test_symbolic_regression_exports_a_runnable_function(tmp_path: Path) -> None:
    cfg = validate_config(
        {
            "experiment": {"name": "symbolic_regression"},
            "search_space": {"name": "gp"},
            "algorithm": {"kind": "generational", "population": 40, "generations": 3},
            "tracking": {"log": "elites"},
        }
    )
    summary = await run_experiment(cfg, tmp_path / "run")
    assert summary["best"]["valid_score"] >= 0
    output = run_module(read(tmp_path / "run" / "winner.py"), tmp_path / "winner.py")
    assert len(output.splitlines()) == 20


async def test_a_workflow_experiment_on_ray_needs_the_runs_forum_store(tmp_path: Path) -> None:
    cfg = validate_config(
        {
            "experiment": {"name": "quickstart"},
            "search_space": {"name": "code_writing"},
            "evaluation": {"backend": "ray"},
            "operators": {"weights": {"mutate": 1.0}},
            "llm": {"url": "http://127.0.0.1:9/v1"},
        }
    )
    folder, resources, stop = RunFolder(tmp_path), Resources(), StopFlag()
    async with AsyncExitStack() as stack:
        planned = await plan(design(cfg), resources, folder=folder, stack=stack, tracker=None, stop=stop)
    with pytest.raises(ConfigError, match="a workflow experiment needs the run's forum store"):
        _evaluator(cfg, folder, planned, resources, stop)


async def test_ray_tune_evaluation_finds_the_same_winner_as_local(tmp_path: Path) -> None:
    local = await run_experiment(config(SIM), tmp_path / "local")
    ray = await run_experiment(config(SIM, evaluation={"backend": "ray", "concurrency": 2}), tmp_path / "ray")
    assert ray["best"] == local["best"]
    assert ray["item_evaluations"] == local["item_evaluations"]


async def test_mlflow_holds_the_winner_with_its_lineage_tags(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    summary = await run_experiment(config(SIM), tmp_path / "run")
    client = MlflowClient(tracking_uri=summary["mlflow"]["tracking_uri"])
    rows = lineage_rows(tmp_path / "run")
    tags = client.get_run(rows[0]["run_id"]).data.tags
    assert tags["evoforum.genome_hash"] == summary["best"]["genome_hash"]
    assert tags["mlflow.parentRunId"] == summary["mlflow"]["run_id"]
    parent_runs = {row["run_id"] for row in rows if row["genome"] in rows[0]["parents"]}
    assert set(filter(None, tags["evoforum.parent_runs"].split(","))) == parent_runs


async def test_progress_and_reports_follow_the_engines_winner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under racing the highest raw score is usually a lucky candidate scored on a few items; the
    progress line, the per-generation reports and the summary's history name the engine's winner."""
    summary = await run_experiment(config(SIM, evaluation={"racing": True}), tmp_path / "run")
    history = summary["history"]
    reports = summary["report_history"]
    assert [row["best"] for row in reports] == [row["best_hash"] for row in history]
    assert history[-1]["best_hash"] == summary["best"]["genome_hash"]
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("gen ")]
    assert len(lines) == len(history)
    shown = [float(line.split()[3]) for line in lines]
    assert shown == pytest.approx([row["best"][0] for row in history], rel=1e-3)


async def test_summary_json_is_a_run_summary(tmp_path: Path) -> None:
    summary = await run_experiment(config(SIM), tmp_path / "run")
    on_disk = orjson.loads((tmp_path / "run" / "summary.json").read_bytes())
    assert RunSummary.model_validate(on_disk).to_json() == summary
    assert list(on_disk) == [name for name in RunSummary.model_fields if name != "coevolution"]
