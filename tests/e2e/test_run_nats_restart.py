"""A run whose NATS server is killed and started again mid-run completes, and no acknowledged bus
message is lost: every reply a candidate's request got is in the forum, below its request.

The run (``run_experiment`` in this process, so a spy sees the replies) uses a NATS server of the
test's own, started again on the same port and JetStream store folder; the stub model streams
slowly enough that candidates are talking over the bus when the server goes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from evoforum.bus import NatsBus
from evoforum.config import validate_config
from evoforum.forum import Forum
from evoforum.llm.stub import StubServer
from evoforum.run import run_experiment
from evoforum.run.resources import open_store
from tests._nats_server import Server, server
from tests._waiting import eventually
from tests.e2e.test_cli_runtime import fresh_database

pytestmark = pytest.mark.services

__all__ = ["server"]  # the fixture


class Replies:
    """The replies the run's requests got over NATS, each with whether the server had been
    started again when it came."""

    def __init__(self) -> None:
        self.got: list[tuple[Any, bool]] = []
        self.restarted = False

    def spy(self, monkeypatch: pytest.MonkeyPatch) -> None:
        request = NatsBus.request

        async def spied(bus: NatsBus, subject: Any, value: Any, **options: Any) -> Any:
            reply = await request(bus, subject, value, **options)
            self.got.append((reply, self.restarted))
            return reply

        monkeypatch.setattr(NatsBus, "request", spied)


async def test_a_run_completes_across_a_nats_restart_and_keeps_every_acknowledged_message(
    server: Server, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await server.wait_ready()
    database = await fresh_database(postgres_url)
    replies = Replies()
    replies.spy(monkeypatch)
    async with StubServer(seed=3, token_delay=0.01, model="nats-restart") as stub:
        config = validate_config(
            {
                "experiment": {"name": "quickstart", "options": {"seeds": []}},
                "search_space": {"name": "code_writing", "options": {"review_chance": 1.0}},
                "algorithm": {"population": 2, "offspring": 2, "generations": 1},
                "operators": {"bandit": False, "weights": {"mutate": 1.0, "rewrite": 0.0, "lmx": 0.0}},
                "llm": {"url": stub.url, "model": "nats-restart", "mode": "record"},
                "evaluation": {"backend": "local", "timeout_s": 20},
                "tracking": {"traces": "none"},
                "runtime": {"postgres_url": database, "nats_url": server.url},
            }
        )
        run = asyncio.create_task(
            run_experiment(config, tmp_path / "run", state_dir=str(tmp_path / "state"), progress="quiet")
        )
        await eventually(lambda: len(replies.got) >= 2 or run.done(), within=60.0)
        assert not run.done(), "the run ended before the restart"
        server.kill()
        await asyncio.sleep(1.0)  # candidates ask while the server is away
        server.start()
        await server.wait_ready()
        replies.restarted = True
        summary = await asyncio.wait_for(run, 90)

    assert summary["item_evaluations"] > 0
    assert summary["best"]["valid_score"] is not None
    assert any(after for _, after in replies.got), "no request was answered after the restart"
    store = await open_store(database)
    try:
        forum = Forum(store)
        for reply, _ in replies.got:  # every reply a candidate got is stored, below its request
            asked, replied = await forum.branch(reply.transcript)
            assert replied.metadata["subject"] == reply.subject + ".reply"
            assert asked.metadata["subject"] == reply.subject
            assert replied.content == {"text": reply.data.text}
    finally:
        await store.close()
