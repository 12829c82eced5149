"""Latency as an objective: a real run with the stub model minimises the wall time of workflows."""

from __future__ import annotations

from pathlib import Path

import pytest

from evoforum.config import validate_config
from evoforum.evolve.cache import read_journal
from evoforum.evolve.individual import is_failure
from evoforum.evolve.lineage import read_lineage
from evoforum.llm.stub import StubServer
from evoforum.run import run_experiment


@pytest.mark.services
async def test_an_nsga2_run_measures_and_minimises_latency(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    out = tmp_path / "run"
    async with StubServer(seed=3) as stub:
        config = validate_config(
            {
                "experiment": {"name": "quickstart", "options": {"seeds": [0]}},
                "search_space": {"name": "code_writing"},
                "algorithm": {
                    "kind": "nsga2",
                    "population": 2,
                    "offspring": 2,
                    "generations": 1,
                    "objectives": ["quality", "latency"],
                },
                "operators": {"bandit": False, "weights": {"mutate": 1.0}},
                "llm": {"url": stub.url, "model": "stub"},
                "runtime": {"postgres_url": postgres_url},
                "evaluation": {"timeout_s": 60},
                "seed": 2,
            }
        )
        summary = await run_experiment(config, out, state_dir=str(tmp_path / "state"))
    assert summary["objectives"] == ["quality", "latency_s"]
    records = read_lineage(out / "lineage.jsonl")
    measured = [r for r in records if not is_failure(r.values)]
    assert measured
    assert all(len(r.values) == 2 and 0.0 < r.values[1] < 60.0 for r in measured)
    items = [
        result for _, batch in read_journal(out / "cache.journal") for _, result in batch if result.values
    ]
    assert items
    for result in items:  # each item's latency is the wall time of its workflow's run
        assert result.values[1] == result.info["latency_s"] > 0.0
