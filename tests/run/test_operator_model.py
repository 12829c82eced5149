"""The LLM operators' own model (``operators.llm``): another server than the workers', on the
run's ledger, budget and record."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from evoforum.config import ExperimentConfig, validate_config
from evoforum.errors import ConfigError
from evoforum.forum import Forum
from evoforum.llm.stub import StubServer
from evoforum.run import RunFolder, StopFlag, design, plan
from evoforum.run.llm import RunBudget, operator_settings
from evoforum.run.resources import Resources, open_resources

KEY = "EVOFORUM_TEST_OPERATOR_KEY"


@pytest.fixture
async def servers() -> AsyncIterator[tuple[StubServer, StubServer]]:
    """The workers' model server and the operators' (another seed: other answers)."""
    async with StubServer(seed=3) as workers, StubServer(seed=5, model="strong") as operators:
        yield workers, operators


def config(
    workers: str, operators: dict[str, Any] | None, mode: str = "live", **sections: Any
) -> ExperimentConfig:
    return validate_config(
        {
            "experiment": {"name": "quickstart"},
            "search_space": {"name": "code_writing"},
            "operators": {"weights": {"rewrite": 1.0}, "llm": operators},
            "llm": {"url": workers, "model": "stub", "mode": mode},
            **sections,
        }
    )


def settings(operators: dict[str, Any], mode: str = "live") -> tuple[str | None, str | None, str | None]:
    """The operators' URL, model and key that the run's settings give."""
    found = operator_settings(config("http://w/v1", operators, mode))
    assert found is not None
    return found.url, found.model, found.api_key


async def opened(stack: AsyncExitStack, cfg: ExperimentConfig, out: Path) -> Resources:
    """The run's resources without PostgreSQL (``live`` mode records nothing)."""
    return await open_resources(
        stack, cfg, RunFolder(out), need_store=False, need_llm=True, state_dir=str(out / "state")
    )


async def test_operators_ask_their_own_server_and_workflows_the_workers(
    servers: tuple[StubServer, StubServer], tmp_path: Path
) -> None:
    workers, operators = servers
    cfg = config(workers.url, {"url": operators.url, "model": "strong"}, budget={"llm_tokens": 10**7})
    designed, folder = design(cfg), RunFolder(tmp_path)
    async with AsyncExitStack() as stack:
        resources = dataclasses.replace(
            await opened(stack, cfg, tmp_path), forum=Forum()
        )  # transcripts in memory (no PostgreSQL)
        planned = await plan(designed, resources, folder=folder, stack=stack, tracker=None, stop=StopFlag())
        [policy] = planned.stateful
        seed = designed.space.seeds()[0]
        await policy.mutate(seed, random.Random(2))
        assert operators.stats.requests > 0
        assert workers.stats.requests == 0  # only the edit memory's embeddings went to the workers
        asked = operators.stats.requests
        assert planned.scorer is not None
        await planned.scorer.score(seed, "quick/largest", 0)
    assert workers.stats.requests > 0
    assert operators.stats.requests == asked
    assert (workers.stats.embeddings > 0, operators.stats.embeddings) == (True, 0)
    by_model = resources.ledger.totals("model")
    assert by_model["strong"].tokens == operators.stats.prompt_tokens + operators.stats.completion_tokens
    assert by_model["stub"].tokens == workers.stats.prompt_tokens + workers.stats.completion_tokens
    assert isinstance(resources.budget, RunBudget)  # one budget for both clients
    assert resources.budget.account.spent_tokens == resources.ledger.total().tokens
    assert resources.ledger.total().tokens > by_model["stub"].tokens + by_model["strong"].tokens > 0


async def test_without_the_section_the_operators_share_the_workers_client(
    servers: tuple[StubServer, StubServer], tmp_path: Path
) -> None:
    workers, _ = servers
    cfg = config(workers.url, None, budget={"llm_tokens": 10**7})
    async with AsyncExitStack() as stack:
        resources = await opened(stack, cfg, tmp_path)
    assert resources.operator_llm is resources.llm
    assert resources.operator_model == resources.model == "stub"
    assert resources.budget is None  # one client: its own budget, as before


async def test_a_key_variable_that_is_not_set_is_named_before_anything_starts(
    servers: tuple[StubServer, StubServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workers, operators = servers
    monkeypatch.delenv(KEY, raising=False)
    cfg = config(workers.url, {"url": operators.url, "model": "strong", "api_key_env": KEY})
    async with AsyncExitStack() as stack:
        with pytest.raises(
            ConfigError, match=f"operators.llm.api_key_env: the environment variable {KEY} is not set"
        ):
            await opened(stack, cfg, tmp_path)
    assert not (tmp_path / "state").exists()
    replayed = settings({"url": operators.url, "model": "strong", "api_key_env": KEY}, "replay")
    assert replayed[2] is None  # a replay asks no server: it needs no key


def test_the_workers_key_goes_to_their_server_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-workers")
    monkeypatch.setenv(KEY, "sk-operators")
    assert settings({"model": "strong"}) == ("http://w/v1", "strong", "sk-workers")
    assert settings({"url": "http://o/v1", "model": "strong"}) == ("http://o/v1", "strong", None)
    named = {"url": "http://o/v1", "model": "strong", "api_key_env": KEY}
    assert settings(named) == ("http://o/v1", "strong", "sk-operators")
    assert operator_settings(config("http://w/v1", None)) is None
