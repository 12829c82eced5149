"""``llm.mode: replay`` serves a recorded run again with zero model calls, charging what the run was
charged: the workflows' answers,
the LLM operators' (on the workers' model or one of their own) and the edit memory's embeddings.

Real PostgreSQL holds the record; the seeded stub model servers answer the recorded run and are
stopped before the replay, so a call would fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evoforum.config import ExperimentConfig, validate_config
from evoforum.evolve.lineage import read_lineage
from evoforum.llm.stub import StubServer
from evoforum.run import run_experiment

pytestmark = pytest.mark.services

SAME = ("best", "evaluations", "item_evaluations", "generations", "history", "report", "operators")


def config(postgres_url: str, workers: str, operators: str | None, mode: str) -> ExperimentConfig:
    """A small quickstart run whose LLM operators remember their edits (the edit memory embeds)."""
    name = "replay-own" if operators else "replay-shared"  # its own record in the session's store
    return validate_config(
        {
            "experiment": {"name": "quickstart", "options": {"seeds": [0]}},
            "search_space": {"name": "code_writing"},
            "algorithm": {"population": 2, "offspring": 2, "generations": 2, "crossover_rate": 0.0,
                          "mutation_rate": 1.0},
            "operators": {
                "bandit": False,
                "edit_memory": True,
                "weights": {"rewrite": 1.0, "mutate": 0.3},
                "llm": {"url": operators, "model": f"{name}-operators"} if operators else None,
            },
            "llm": {"url": workers, "model": name, "mode": mode},
            "runtime": {"postgres_url": postgres_url},
            "evaluation": {"timeout_s": 60},
            "tracking": {"log": "elites"},
        }
    )  # fmt: skip


@pytest.mark.parametrize("own_model", [False, True], ids=["workers-model", "operators-model"])
async def test_a_recorded_run_replays_whole_with_the_model_servers_stopped(
    own_model: bool, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    state = str(tmp_path / "state")
    async with StubServer(seed=3) as workers, StubServer(seed=5) as operators:
        urls = (workers.url, operators.url if own_model else None)
        recorded = await run_experiment(
            config(postgres_url, *urls, "record"), tmp_path / "recorded", state_dir=state
        )
    assert workers.stats.embeddings > 0  # the edit memory embedded edits
    assert (operators.stats.requests > 0) == own_model
    assert recorded["llm_calls"] > 0

    replayed = await run_experiment(
        config(postgres_url, *urls, "replay"), tmp_path / "replayed", state_dir=state
    )
    # not one model call (the servers are stopped), and the replay spends what the run spent: every
    # answer is charged at its recorded usage, so budgets stop a replay where they stopped the run
    assert (replayed["llm_calls"], replayed["llm_tokens"]) == (recorded["llm_calls"], recorded["llm_tokens"])
    for key in SAME:
        assert replayed[key] == recorded[key], key
    lineage = read_lineage(tmp_path / "recorded" / "lineage.jsonl")
    assert read_lineage(tmp_path / "replayed" / "lineage.jsonl") == lineage  # transcripts too
    assert "llm_rewrite" in {record.operator for record in lineage}
