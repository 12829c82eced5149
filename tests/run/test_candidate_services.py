"""A run with services gives its candidates the real runtime: their LLM agents' messages land in the
PostgreSQL forum and resolve there, the bus is NATS (its messages in the forum too), and memory is a
NATS KV bucket and pgvector tables in the run's own namespace."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from pydantic import BaseModel

import experiments
import search_spaces
from evoforum.bus import Envelope, NatsBus, Subject
from evoforum.config import validate_config
from evoforum.forum import Forum
from evoforum.genome import LLMAgentSpec
from evoforum.genome.runnable import prompt_message
from evoforum.llm.stub import StubServer
from evoforum.memory import Database, NatsKV
from evoforum.run.folder import RunFolder
from evoforum.run.resources import open_resources, open_store
from evoforum.run.scoring import WorkflowScorer
from evoforum.run.workspace import run_namespace
from evoforum.sandbox import Sandbox
from tests._waiting import eventually

pytestmark = pytest.mark.services

QUICK = experiments.get("quickstart")
ITEM = "quick/largest"
SINGLE_CALL = search_spaces.get("code_writing").seeds()[2]  # draft (the writer) >> extract_draft


class Note(BaseModel):
    text: str


async def test_a_candidates_agent_messages_land_in_postgres_and_it_shares_the_runs_nats_and_pgvector(
    nats_url: str, postgres_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    async with StubServer(seed=6) as stub, AsyncExitStack() as stack:
        config = validate_config(
            {
                "experiment": {"name": "quickstart"},
                "search_space": {"name": "code_writing"},
                "llm": {"url": stub.url, "model": "candidate-runtime"},  # its own record in the store
                "runtime": {"postgres_url": postgres_url, "nats_url": nats_url},
            }
        )
        resources = await open_resources(
            stack, config, RunFolder(out), need_store=True, need_llm=True, state_dir=str(tmp_path / "state")
        )
        assert isinstance(resources.bus, NatsBus)
        assert isinstance(resources.memory.kv, NatsKV)
        scorer = WorkflowScorer(
            QUICK,
            llm=resources.llm,
            forum=resources.forum,
            bus=resources.bus,
            memory=resources.memory,
            sandbox=Sandbox(),
            model=resources.model,
            timeout_s=60,
        )
        result = await scorer.score(SINGLE_CALL, ITEM, 0)
        assert stub.stats.answered == 1

        heard: list[Envelope[Note]] = []

        async def hear(envelope: Envelope[Note]) -> None:
            heard.append(envelope)

        notes = Subject("candidates.notes", Note)
        await resources.bus.subscribe(notes, hear)
        await resources.bus.publish(notes, Note(text="solved"))
        await eventually(lambda: bool(heard))

        await resources.memory.kv.put("solved.largest", b"yes")
        vectors = await resources.memory.vectors("solved", 3)
        await vectors.upsert(["largest"], [[1.0, 0.0, 0.0]], [{"item": ITEM}])
        [hit] = await vectors.query([0.9, 0.1, 0.0], k=1)
        assert hit.id == "largest"

    namespace = run_namespace(out)
    store = await open_store(postgres_url)  # a connection of its own: what the run wrote is stored
    try:
        forum = Forum(store)
        writer = SINGLE_CALL.agent("writer")
        assert isinstance(writer, LLMAgentSpec)
        prompt = prompt_message(writer, QUICK.inputs(ITEM), asker="draft")
        [answer] = await forum.children(prompt.hash)
        assert answer.sender == "writer"
        assert await forum.resolve(answer.hash[:12]) == answer.hash
        assert [m.hash for m in await forum.branch(answer.hash)] == [prompt.hash, answer.hash]
        transcript = await forum.branch(result.transcripts[0])
        [draft] = [m for m in transcript if m.sender == "draft"]
        assert draft.text == answer.text  # the flow's record of the task is the agent's answer
        assert heard[0].transcript is not None
        assert (await forum.get(heard[0].transcript)).content == {"text": "solved"}
    finally:
        await store.close()
    async with await NatsKV.connect(nats_url, namespace) as kv:
        assert await kv.get("solved.largest") == b"yes"
    db = await Database.connect(postgres_url, max_size=1)
    try:
        found = await db.fetch_value(f"SELECT count(*) FROM {namespace}_solved")
        assert found == 1
    finally:
        await db.close()
