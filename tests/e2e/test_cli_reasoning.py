"""The reasoning config end to end with the stub model: its summary sets the winner beside the
single call on the same test items."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from experiments.reasoning import single_call
from tests.e2e.conftest import ROOT, cli_env, evoforum

pytestmark = pytest.mark.services


def test_the_reasoning_config_reports_the_winner_beside_the_single_call(
    tmp_path: Path, postgres_url: str, stub_llm_url: str
) -> None:
    # A model name of its own: no other test's recorded answers serve this run.
    env = cli_env(tmp_path, postgres_url=postgres_url, llm_url=stub_llm_url, llm_model="stub-reasoning")
    sizes = ["experiment.options.train=1", "experiment.options.valid=4", "experiment.options.test=3"]
    small = ["algorithm.population=2", "algorithm.offspring=1", "algorithm.generations=1"]
    sets = [part for value in [*sizes, *small, "evaluation.racing_min_items=2"] for part in ("--set", value)]
    out = tmp_path / "reasoning"
    done = evoforum("run", str(ROOT / "configs" / "reasoning.yaml"), "--out", str(out), *sets, env=env)
    assert done.returncode == 0, done.stderr
    summary = orjson.loads((out / "summary.json").read_bytes())
    assert (summary["experiment"], summary["search_space"]) == ("reasoning", "qa_ensemble")
    assert summary["splits"]["test"] == 3
    single = summary["baselines"]["single_call"]
    assert single["genome_hash"] == single_call().hash
    assert 0.0 <= single["test_score"] <= 1.0
    assert single["tokens_per_item"] > 0
    assert summary["best"]["test_score"] is not None
    assert summary["best"]["test_tokens_per_item"] > 0
    assert (out / "winner.py").exists()
