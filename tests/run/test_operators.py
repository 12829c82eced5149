"""Workflow operators and the runner's LLM layers, against the stub model over real HTTP."""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

import search_spaces
from evoforum.config import ExperimentConfig, validate_config
from evoforum.errors import BudgetExceeded, ConfigError
from evoforum.evolve.lineage import read_lineage
from evoforum.evolve.operators import rewrite_genome
from evoforum.forum import InMemoryStore
from evoforum.llm import Budget, Ledger, Metered, OpenAICompatible, Recording, chat_request
from evoforum.llm.stub import StubServer
from evoforum.run import lineage_rows, run_experiment, show_conversation
from evoforum.run.llm import Cached, Sampling
from evoforum.run.plan import GROUPS, Seeding, variation
from tests._files import held_open

SPACE = search_spaces.get("code_writing")


@pytest.fixture
async def stub() -> AsyncIterator[StubServer]:
    async with StubServer(seed=3) as server:
        yield server


def config(**operators: object) -> ExperimentConfig:
    return validate_config(
        {
            "experiment": {"name": "quickstart"},
            "search_space": {"name": "code_writing"},
            "operators": operators,
        }
    )


def test_seeding_gives_the_chosen_seeds_first_then_random_valid_genomes() -> None:
    seeding = Seeding(SPACE, (0,))
    rng = random.Random(0)
    first, second = seeding.init(rng), seeding.init(rng)
    assert first.hash == SPACE.seeds()[0].hash
    assert second.hash != first.hash
    assert second.metadata.origin["operator"] == "init"  # as its lineage record says
    assert second.metadata.origin["init"] == "random"
    assert seeding.random_genome(rng).metadata.origin["operator"] == "random"  # random search's
    assert SPACE.check(second) == []


async def test_fixed_weights_choose_only_the_weighted_groups_without_a_model() -> None:
    policy = await variation(config(bandit=False, weights={"mutate": 1.0, "rewrite": 1.0}), SPACE, None, None)
    assert policy.bandit is None
    names = {op.name for op in policy.operators}
    assert names == {op.name for op in GROUPS["mutate"]} | {"mut_best_of_k"}  # the space's own; rewrite
    # needs a model: left out
    rng = random.Random(4)
    seed = SPACE.seeds()[0]
    children = [await policy.mutate(seed, rng) for _ in range(8)]
    assert all(SPACE.check(child) == [] for child in children)
    assert {child.metadata.origin.get("operator") for child in children if child.hash != seed.hash} <= names


async def test_the_operators_repair_their_invalid_children_with_the_spaces_repair() -> None:
    policy = await variation(config(bandit=False, weights={"mutate": 1.0}), SPACE, None, None)
    assert policy.context.repair == SPACE.repair
    loop = SPACE.seeds()[0]
    child = loop.model_copy(update={"code": loop.code.replace("    failure_report,\n", "")})
    assert SPACE.check(child) != []
    assert policy.context.repair is not None
    repaired = policy.context.repair(child)
    assert repaired is not None
    assert SPACE.check(repaired) == []


async def test_an_operator_named_on_its_own_has_its_own_weight_over_its_groups() -> None:
    weights = {"mutate": 0.1, "mut_best_of_k": 2.0, "mut_temperature": 0.0}
    policy = await variation(config(bandit=False, weights=weights), SPACE, None, None)
    assert policy.weights is not None
    assert policy.weights["mut_best_of_k"] == 2.0  # the space's own operator, weighed alone
    assert policy.weights["mut_prompt"] == 0.1
    assert "mut_temperature" not in policy.weights  # 0: left out of its group


async def test_an_unknown_operator_group_is_named_with_a_suggestion() -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape("operators.weights.mutat: unknown operator group or operator (did you mean 'mutate'"),
    ):
        await variation(config(weights={"mutat": 1.0}), SPACE, None, None)
    with pytest.raises(ConfigError, match=re.escape("(did you mean 'mut_best_of_k'")):
        await variation(config(weights={"mut_best_of_kk": 1.0}), SPACE, None, None)
    with pytest.raises(ConfigError, match="no operator is left"):
        await variation(config(weights={"rewrite": 1.0}), SPACE, None, None)


async def test_llm_operators_get_a_bandit_and_an_edit_memory(stub: StubServer) -> None:
    client = OpenAICompatible(stub.url, "stub")
    try:
        policy = await variation(config(weights={"rewrite": 1.0}), SPACE, client, "stub")
        assert policy.bandit is not None
        assert policy.context.memory is not None
        seed = SPACE.seeds()[0]
        child = await policy.mutate(seed, random.Random(2))
        await policy.observe(child, 1.0, 0.0)
        remembered = await policy.context.memory.examples("system prompt", k=3)
    finally:
        await client.aclose()
    assert child.metadata.origin["operator"] == "llm_rewrite"
    assert SPACE.check(child) == []
    assert [edit.delta for edit in remembered] == [1.0]


async def test_cached_answers_a_recorded_request_without_asking_again(stub: StubServer) -> None:
    inner = OpenAICompatible(stub.url, "stub")
    recording = Recording(inner, InMemoryStore(), "record")
    client = Cached(recording, recording)
    try:
        request = chat_request("stub", "Write a haiku about hashes.")
        first = await client.complete(request)
        second = await client.complete(request)
    finally:
        await client.aclose()
    assert stub.stats.answered == 1
    assert client.hits == 1
    assert second.text == first.text


async def test_a_cached_answer_is_charged_as_if_asked_and_refused_past_the_budget(stub: StubServer) -> None:
    ledger = Ledger()
    recording = Recording(Metered(OpenAICompatible(stub.url, "stub"), ledger), InMemoryStore(), "record")
    request = chat_request("stub", "Write a haiku about hashes.")
    first = await Cached(recording, recording).complete(request)
    asked = first.usage.prompt_tokens + first.usage.completion_tokens
    budget = Budget(max_tokens=2 * asked)
    ledger = Ledger()
    recording = Recording(
        Metered(OpenAICompatible(stub.url, "stub"), ledger, budget=budget), recording.store, "record"
    )
    client = Cached(recording, recording)
    try:
        for _ in range(2):
            assert (await client.complete(request)).text == first.text
        with pytest.raises(BudgetExceeded):  # a third answer passes the budget, recorded or not
            await client.complete(request)
    finally:
        await client.aclose()
    assert stub.stats.answered == 1
    total = ledger.total()
    assert (total.calls, total.recorded_calls, total.tokens) == (2, 2, 2 * asked)


async def test_cached_answers_a_recorded_embedding_without_asking_again(stub: StubServer) -> None:
    inner = OpenAICompatible(stub.url, "stub")
    recording = Recording(inner, InMemoryStore(), "record", model="stub")
    client = Cached(recording, recording)
    try:
        first = await client.embed(["Be terse."])
        second = await client.embed(["Be terse."])
        other = await client.embed(["Be terse."], model="other")
    finally:
        await client.aclose()
    assert stub.stats.embeddings == 2  # the first text, then the same text for another model
    assert client.hits == 1
    assert second == first
    assert len(other) == 1


async def test_sampling_seed_makes_a_distinct_request(stub: StubServer) -> None:
    inner = OpenAICompatible(stub.url, "stub")
    recording = Recording(inner, InMemoryStore(), "record")
    cached = Cached(recording, recording)
    try:
        request = chat_request("any-name", "Write a haiku about hashes.")
        one = Sampling(cached, seed=1, model="stub", max_tokens=50)
        two = Sampling(cached, seed=2, model="stub", max_tokens=50)
        await one.complete(request)
        await one.complete(request)
        await two.complete(request)
    finally:
        await inner.aclose()
    assert stub.stats.answered == 2
    assert one.calls == 2
    assert one.tokens > 0


async def test_coevolve_gives_the_llm_operators_populations_of_operator_genomes(stub: StubServer) -> None:
    client = OpenAICompatible(stub.url, "stub")
    try:
        plain = await variation(config(weights={"rewrite": 1.0, "lmx": 1.0}), SPACE, client, "stub")
        policy = await variation(
            config(coevolve=True, weights={"rewrite": 1.0, "lmx": 1.0, "mutate": 1.0}), SPACE, client, "stub"
        )
    finally:
        await client.aclose()
    assert plain.coevolution is None
    assert policy.coevolution is not None
    assert dict(policy.coevolution.kinds) == {"lmx": "lmx", "lmx_code": "lmx", "llm_rewrite": "rewrite"}
    assert (policy.coevolution.size, policy.coevolution.every) == (3, 6)  # the config's defaults


async def test_the_pool_size_and_replacement_interval_come_from_the_config(stub: StubServer) -> None:
    client = OpenAICompatible(stub.url, "stub")
    try:
        policy = await variation(
            config(coevolve=True, coevolve_pool=5, coevolve_every=2, weights={"rewrite": 1.0}),
            SPACE,
            client,
            "stub",
        )
        assert policy.coevolution is not None
        await policy.coevolution.draw("llm_rewrite")
    finally:
        await client.aclose()
    assert (policy.coevolution.size, policy.coevolution.every) == (5, 2)
    assert len(policy.coevolution.members["rewrite"]) == 5


@pytest.mark.services
async def test_a_coevolving_run_writes_the_operator_genomes_and_their_lineage(
    stub: StubServer, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    run_config = validate_config(
        {
            "experiment": {"name": "quickstart", "options": {"seeds": [0, 1]}},
            "search_space": {"name": "code_writing"},
            "algorithm": {
                "population": 2,
                "offspring": 3,
                "generations": 1,
                "crossover_rate": 0.0,
                "mutation_rate": 1.0,
            },
            "operators": {
                "coevolve": True,
                "coevolve_pool": 5,
                "coevolve_every": 2,
                "bandit": False,
                "weights": {"rewrite": 1.0},
            },
            "llm": {"url": stub.url, "model": "stub"},
            "runtime": {"postgres_url": postgres_url},
            "evaluation": {"timeout_s": 60},
            "seed": 6,  # its pool holds an operator genome the model rewrote
        }
    )
    out = tmp_path / "run"
    summary = await run_experiment(run_config, out, state_dir=str(tmp_path / "state"))
    found = summary["coevolution"]
    assert set(found) == {"rewrite"}
    members = found["rewrite"]
    assert len(members) == 5  # operators.coevolve_pool
    seed = rewrite_genome().hash
    assert (members[0]["genome_hash"], members[0]["parent"]) == (seed, None)
    assert all(m["parent"] is not None for m in members[1:])
    assert sum(m["trials"] for m in members) > 0
    assert all(m["score"] is None or isinstance(m["score"], float) for m in members)
    written = orjson.loads((out / "summary.json").read_bytes())
    assert written["coevolution"] == found
    records = read_lineage(out / "coevolution.jsonl")
    assert {m["genome_hash"] for m in members} <= {r.genome_hash for r in records}
    assert all(r.operator.startswith("coevolve:") for r in records)
    assert [r.index for r in records] == list(range(len(records)))
    assert not held_open(out / "lineage.jsonl", out / "coevolution.jsonl")  # the writers were closed
    await _operator_runs_are_in_mlflow(summary, out, members)
    await _the_edit_memory_is_the_runs_pgvector_table(postgres_url, out)


async def _the_edit_memory_is_the_runs_pgvector_table(postgres_url: str, out: Path) -> None:
    import asyncpg

    from evoforum.run.plan import run_table

    connection = await asyncpg.connect(postgres_url)
    try:
        table = await connection.fetchval("SELECT to_regclass($1)::text", run_table(out))
    finally:
        await connection.close()
    assert table == run_table(out)


async def _operator_runs_are_in_mlflow(summary: dict[str, object], out: Path, members: list[dict]) -> None:
    from mlflow.tracking import MlflowClient

    tracking = summary["mlflow"]
    assert isinstance(tracking, dict)
    client = MlflowClient(tracking["tracking_uri"])
    experiment = client.get_run(tracking["run_id"]).info.experiment_id

    def population(name: str) -> list:
        return client.search_runs([experiment], filter_string=f"tags.`evoforum.population` = '{name}'")

    operators, workflows = population("operators"), population("workflows")
    runs = {run.data.tags["evoforum.genome_hash"]: run for run in operators}
    assert {m["genome_hash"] for m in members} <= set(runs)
    ids = {run.info.run_id for run in operators}
    for run in operators:
        tags = run.data.tags
        assert tags["mlflow.parentRunId"] == tracking["run_id"]
        assert tags["evoforum.operator_kind"] == "rewrite"
        assert tags["evoforum.operator"].startswith("coevolve:")
        assert tags["evoforum.generation"].isdigit()
        parents = [p for p in tags["evoforum.parent_runs"].split(",") if p]
        assert set(parents) <= ids  # parents are operator genome runs
        assert bool(parents) == (tags["evoforum.operator"] != "coevolve:seed")
        folder = out / "mlartifacts" / run.info.run_id / "artifacts"  # served by `mlflow ui` in `out`
        artifacts = {path.name for path in folder.iterdir()}
        diffs = {name for name in artifacts if name.startswith("diff_parent_")}  # one per parent
        assert artifacts - diffs == {"genome.json"}
        assert ("diff_parent_1.diff.txt" in diffs) == bool(parents)
    assert any(member["trials"] for member in members)
    for member in members:
        if member["trials"]:
            metrics = runs[member["genome_hash"]].data.metrics
            assert metrics["improvement"] == pytest.approx(member["score"])
            assert metrics["trials"] == member["trials"]
    transcripts = [t for run in operators for t in run.data.tags["evoforum.transcripts"].split(",") if t]
    assert transcripts, "no operator genome was made by a model call"
    shown = await show_conversation(transcripts[0], out, None)
    assert "assistant" in shown
    candidates = {run.info.run_id for run in workflows}
    assert candidates
    assert not candidates & ids
    for run in workflows:
        assert set(filter(None, run.data.tags["evoforum.parent_runs"].split(","))) <= candidates
    assert not {row["genome"] for row in lineage_rows(out)} & set(runs)
