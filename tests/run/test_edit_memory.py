"""The run's edit memory: its own pgvector table (or numpy in the process), checkpointed with the
operator policy, so a run stopped after a checkpoint and resumed equals one never stopped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import search_spaces
from evoforum.errors import ServiceUnavailable
from evoforum.evolve import (
    Engine,
    EvolutionResult,
    InMemoryLineage,
    JsonlLineage,
    LocalEvaluator,
    MuPlusLambda,
)
from evoforum.evolve.checkpoint import load_checkpoint
from evoforum.evolve.operators import Edit, EditMemory, OperatorContext, VariationPolicy
from evoforum.evolve.operators.llm_ops import llm_rewrite
from evoforum.genome import WorkflowGenome
from evoforum.hashing import digest
from evoforum.llm import OpenAICompatible
from evoforum.llm.stub import StubServer
from evoforum.memory import Database, MemoryVectorStore, PgVectorStore
from evoforum.run.plan import EditStore, Seeding, open_edit_memory, run_table, stored_ids

SPACE = search_spaces.get("code_writing")
GENERATIONS = 3
KILLED_IN = 2
"""The generation the stopped session dies in, after its edits were recorded, before its checkpoint."""


class Killed(Exception):
    """Stands for SIGKILL: the session ends where it is, writing nothing more."""


@pytest.fixture
async def stub() -> AsyncIterator[StubServer]:
    async with StubServer(seed=13) as server:
        yield server


@pytest.fixture(params=["memory", pytest.param("pgvector", marks=pytest.mark.services)])
def postgres(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "memory" else str(request.getfixturevalue("postgres_url"))


def test_each_run_folder_has_its_own_valid_table(tmp_path: Path) -> None:
    one, other = run_table(tmp_path / "one"), run_table(tmp_path / "other")
    assert one != other
    assert run_table(tmp_path / "one") == one == EditStore.of_run(tmp_path / "one", "postgresql://x").table
    assert one.startswith("edit_memory_")
    PgVectorStore(None, one, 4)  # type: ignore[arg-type]  # a valid table name, else UsageError


async def test_without_postgres_the_memory_lives_in_the_process(stub: StubServer) -> None:
    client = OpenAICompatible(stub.url, "stub")
    try:
        memory = await open_edit_memory(client, EditStore.of_run(Path("run"), None))
        plain = await open_edit_memory(client)
    finally:
        await client.aclose()
    assert isinstance(memory.memory.store, MemoryVectorStore)
    assert isinstance(plain.memory.store, MemoryVectorStore)


@pytest.mark.services
async def test_with_postgres_the_memory_is_an_exact_pgvector_table(
    stub: StubServer, postgres_url: str, tmp_path: Path
) -> None:
    where = EditStore.of_run(tmp_path / "run", postgres_url)
    client = OpenAICompatible(stub.url, "stub")
    async with await Database.connect(postgres_url) as db:
        try:
            # a table of another embedding size (another model) is replaced
            await PgVectorStore.open(db, where.table, 3, index="none")
            memory = await open_edit_memory(client, where)
            assert isinstance(memory.memory.store, PgVectorStore)
            assert memory.memory.store.table == where.table
            done = Edit(
                operator="llm_rewrite", kind="prompt", before="Be brief.", after="Be terse.", delta=0.5
            )
            await memory.record(done)
            assert await memory.examples("Be brief please.", k=1) == [done]
            assert await stored_ids(memory.memory.store) == [done.id]
            indexes = await db.fetch_value(
                "SELECT count(*) FROM pg_indexes WHERE tablename = $1", where.table
            )
            assert indexes == 1  # the primary key only: exact scans, the same answers every time
            again = await open_edit_memory(client, where)  # a new run in the same folder starts empty
            assert await again.examples("Be brief please.", k=1, improving=False) == []
            assert await stored_ids(again.memory.store) == []  # type: ignore[arg-type]
        finally:
            await client.aclose()
            await PgVectorStore(db, where.table, 1).drop()


async def test_an_unreachable_postgres_is_a_clear_error(stub: StubServer) -> None:
    client = OpenAICompatible(stub.url, "stub")
    try:
        with pytest.raises(ServiceUnavailable, match="edit memory"):
            await open_edit_memory(client, EditStore("postgresql://nobody@127.0.0.1:9/none", "edit_memory_x"))
    finally:
        await client.aclose()


def fitness(genome: WorkflowGenome, item: str, seed: int) -> tuple[float]:
    """A fixed pseudo-random score per genome: about half the edits improve, half do not."""
    return (int(digest(genome.hash, domain="test-fitness")[:8], 16) / 16**8,)


async def session(
    stub: StubServer, out: Path, where: EditStore, *, resume: bool, kill: bool
) -> tuple[EvolutionResult | None, VariationPolicy, InMemoryLineage]:
    """One process's worth of a run: a fresh client, memory, policy and engine on ``out``."""
    client = OpenAICompatible(stub.url, "stub")
    try:
        memory = await open_edit_memory(client, where)
        policy = VariationPolicy([llm_rewrite], _context(client, memory))
        seeding = Seeding(SPACE, None)
        records = InMemoryLineage()
        sink = JsonlLineage(out / "lineage.jsonl")
        engine: Engine

        def die(child: Any, parents: Any) -> None:
            if kill and engine.generation == KILLED_IN - 1:
                raise Killed

        engine = Engine(
            operators=policy.engine_operators(seeding.init),
            algorithm=MuPlusLambda(mu=3, lambda_=4, cxpb=0.0, mutpb=1.0),
            evaluator=LocalEvaluator(fitness),
            items=["0"], weights=(1.0,), generations=GENERATIONS, seed=2, out_dir=out,
            lineage=[records, sink], observers=[policy.observe_individual, die], stateful=[policy],
        )  # fmt: skip
        try:
            return await engine.run(resume=resume), policy, records
        except Killed:
            return None, policy, records
        finally:
            sink.close()
    finally:
        await client.aclose()


def _context(client: OpenAICompatible, memory: EditMemory) -> OperatorContext:
    return OperatorContext(space=SPACE, llm=client, model="stub", memory=memory)


def summary(result: EvolutionResult) -> dict[str, Any]:
    return {
        "population": [(i.hash, i.fitness.values, i.parents, i.operator) for i in result.population],
        "archive": [i.hash for i in result.archive],
        "history": result.history,
        "evaluations": (result.evaluations, result.jobs),
    }


@pytest.mark.timeout(60)
async def test_a_run_stopped_after_a_checkpoint_resumes_to_the_same_run(
    stub: StubServer, postgres: str | None, tmp_path: Path
) -> None:
    if postgres is None:
        await stopped_and_resumed(stub, tmp_path, None)
        return
    async with await Database.connect(postgres, max_size=2) as db:  # the run's pool, as a runner owns it
        try:
            await stopped_and_resumed(stub, tmp_path, db)
        finally:
            for folder in ("whole", "stopped"):
                await PgVectorStore(db, run_table(tmp_path / folder), 1).drop()


async def stopped_and_resumed(stub: StubServer, tmp_path: Path, db: Database | None) -> None:
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    whole.mkdir()
    stopped.mkdir()
    where_whole, where = EditStore.of_run(whole, None, db), EditStore.of_run(stopped, None, db)
    expected, straight, _ = await session(stub, whole, where_whole, resume=False, kill=False)
    assert expected is not None
    dead, before_kill, _ = await session(stub, stopped, where, resume=False, kill=True)
    assert dead is None
    checkpoint = load_checkpoint(stopped)
    assert checkpoint is not None
    assert checkpoint["generation"] == KILLED_IN - 1
    kept = len(checkpoint["stateful"][0]["memory"]["edits"])
    assert before_kill.context.memory is not None
    assert 0 < kept < len(before_kill.context.memory.edits), "no edit was recorded after the checkpoint"

    resumed, policy, records = await session(stub, stopped, where, resume=True, kill=False)
    assert resumed is not None
    assert summary(resumed) == summary(expected)
    assert (stopped / "lineage.jsonl").read_text() == (whole / "lineage.jsonl").read_text()
    assert policy.context.memory is not None
    assert straight.context.memory is not None
    assert policy.context.memory.edits == straight.context.memory.edits
    assert policy.context.stats.as_dict() == straight.context.stats.as_dict()  # operator counts too
    # examples were offered before the kill (whether an early edit improves depends on the seed)
    assert any(edit.delta > 0 for edit in policy.context.memory.edits[:kept])
    if db is not None:
        assert isinstance(policy.context.memory.memory.store, PgVectorStore)
        ids = sorted(edit.id for edit in policy.context.memory.edits)
        assert await stored_ids(policy.context.memory.memory.store) == ids
    assert records.records[0].generation == KILLED_IN  # the resumed session began after the checkpoint
