"""The shipped configs: each one loads, names a real experiment, and the schema file is current."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evoforum.config import json_schema, load_config
from evoforum.run import design
from evoforum.run.folder import summary_schema

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
NAMES = ["quickstart", "symbolic_regression", "humaneval", "sim_workflow"]


@pytest.mark.parametrize("name", NAMES)
def test_config_loads_and_plans(name: str) -> None:
    config = load_config(CONFIGS / f"{name}.yaml")
    plan = design(config)
    assert config.experiment.name == name
    assert plan.splits.valid
    assert plan.splits.test


def test_quickstart_uses_the_local_model_for_llm_operators() -> None:
    config = load_config(CONFIGS / "quickstart.yaml")
    plan = design(config)
    assert config.llm.url is None  # the embedded local model
    assert config.llm.mode == "record"
    assert config.operators.weights["rewrite"] > 0
    assert plan.needs_llm
    assert plan.needs_store


def test_sim_workflow_needs_no_services() -> None:
    plan = design(load_config(CONFIGS / "sim_workflow.yaml"))
    assert not plan.needs_llm
    assert not plan.needs_store


def test_schema_file_is_the_config_schema() -> None:
    assert json.loads((CONFIGS / "schema.json").read_text()) == json.loads(json.dumps(json_schema()))


def test_a_run_can_leave_the_baselines_to_another() -> None:
    assert design(load_config(CONFIGS / "humaneval.yaml")).baselines
    assert design(load_config(CONFIGS / "humaneval.yaml", ["experiment.baselines=false"])).baselines == {}


def test_random_search_is_one_switch_away() -> None:
    config = load_config(CONFIGS / "sim_workflow.yaml", ["algorithm.kind=random_search"])
    assert config.algorithm.kind == "random_search"


def test_summary_schema_file_is_the_run_summary_schema() -> None:
    found = json.loads((CONFIGS / "summary.schema.json").read_text())
    assert found == json.loads(json.dumps(summary_schema()))
    assert {"best", "evaluations", "llm_calls", "llm_tokens", "mlflow", "wall_s"} <= set(found["required"])
