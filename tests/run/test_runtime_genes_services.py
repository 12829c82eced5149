"""The runtime genes on a run's real services: a candidate that recalls solved train items finds
them in the run's pgvector table (the scorer stored them there first), and a candidate whose
critic serves a subject talks over the real NATS server, its request and reply landing in the
PostgreSQL forum."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from evoforum.bus import NatsBus
from evoforum.config import validate_config
from evoforum.forum import Forum
from evoforum.genome import DagSpec, FunctionAgentSpec, TaskSpec, WorkflowGenome
from evoforum.genome.agents import RecallSpec
from evoforum.llm.stub import StubServer
from evoforum.memory import Database
from evoforum.run.folder import RunFolder
from evoforum.run.resources import open_resources, open_store
from evoforum.run.scoring import WorkflowScorer
from evoforum.run.workspace import run_namespace
from evoforum.sandbox import Sandbox
from tests.genome.test_runtime_genes import reviewing, wire

pytestmark = pytest.mark.services

TRAIN = (
    ("def add(a, b):\n    'The sum of a and b.'\n", "def add(a, b):\n    return a + b\n"),
    ("def rev(s):\n    'The string s reversed.'\n", "def rev(s):\n    return s[::-1]\n"),
    ("def big(xs):\n    'The largest of xs.'\n", "def big(xs):\n    return max(xs)\n"),
)


class Solved:
    """An experiment whose items are its train problems asked again: the answer scores 1 when it
    holds the problem's own solution (what a recall of the nearest solved item shows)."""

    def inputs(self, item: str) -> dict[str, Any]:
        return {"problem": TRAIN[int(item)][0]}

    def score(self, item: str, output: Any) -> tuple[str, str]:
        wanted = TRAIN[int(item)][1]
        return f"def entry():\n    return float({wanted!r} in {str(output)!r})\n", "entry"

    def recall_items(self) -> tuple[tuple[str, str], ...]:
        return TRAIN


RECALLING = WorkflowGenome(
    inputs=("problem",),
    agents=(RecallSpec(name="solved_examples", k=1), FunctionAgentSpec(name="echoer", function="echo")),
    code="def echo(text):\n    return text\n",
    entry=DagSpec(
        tasks=(
            TaskSpec(name="find", agent="solved_examples", inputs=(wire("query", "problem"),)),
            TaskSpec(name="shown", agent="echoer", inputs=(wire("text", "find", task=True),)),
        )
    ),
)


async def test_recall_and_dialogue_genes_run_on_the_runs_nats_pgvector_and_postgres_forum(
    nats_url: str, postgres_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    async with StubServer(seed=5) as stub, AsyncExitStack() as stack:
        config = validate_config(
            {
                "experiment": {"name": "quickstart"},
                "search_space": {"name": "code_writing"},
                "llm": {"url": stub.url, "model": "runtime-genes"},  # its own record in the store
                "runtime": {"postgres_url": postgres_url, "nats_url": nats_url},
            }
        )
        resources = await open_resources(
            stack, config, RunFolder(out), need_store=True, need_llm=True, state_dir=str(tmp_path / "state")
        )
        assert isinstance(resources.bus, NatsBus)
        spy = Spy(resources.bus)
        scorer = WorkflowScorer(
            Solved(),
            llm=resources.llm,
            forum=resources.forum,
            bus=spy,
            memory=resources.memory,
            sandbox=Sandbox(),
            model=resources.model,
            timeout_s=60,
        )
        recalled = [await scorer.score(RECALLING, str(i), 0) for i in range(len(TRAIN))]
        reviewed = await scorer.score(reviewing(), "0", 0)

    assert [r.values[0] for r in recalled] == [1.0, 1.0, 1.0]  # each finds its own solved item first
    assert reviewed.error is None, reviewed.info
    namespace = run_namespace(out)
    db = await Database.connect(postgres_url, max_size=1)
    try:
        assert await db.fetch_value(f"SELECT count(*) FROM {namespace}_solved") == len(TRAIN)  # stored once
    finally:
        await db.close()
    [reply] = spy.replies
    assert reply.transcript is not None  # the reply came back over NATS naming its forum message
    store = await open_store(postgres_url)  # a connection of its own: what the run wrote is stored
    try:
        forum = Forum(store)
        asked, replied = await forum.branch(reply.transcript)
        assert asked.metadata["subject"] == reply.subject
        assert reply.subject.startswith("dialogue.")
        assert reply.subject.endswith(".code.review")
        assert asked.content["problem"] == TRAIN[0][0]
        assert replied.metadata["subject"] == reply.subject + ".reply"
        assert replied.content == {"text": reply.data.text}
        assert await forum.resolve(replied.hash[:12]) == replied.hash
    finally:
        await store.close()


class Spy:
    """A bus that keeps the replies its requests got (what a test cannot see from outside)."""

    def __init__(self, bus: Any) -> None:
        self.bus = bus
        self.replies: list[Any] = []

    async def request(self, subject: Any, value: Any, **options: Any) -> Any:
        reply = await self.bus.request(subject, value, **options)
        self.replies.append(reply)
        return reply

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus, name)
