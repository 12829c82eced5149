"""``evoforum run`` on the standard runtime, through the command line, with the real services.

A quickstart run whose candidates all have their draft reviewed by a critic over a bus subject
and recall the nearest solved train problems (``search_space.options`` ``review_chance`` and
``recall_chance`` at 1, ``experiment.options.solved``): their requests and replies cross the real
NATS server and land in the PostgreSQL forum, where ``evoforum show`` resolves them; the solved
problems are rows of the run's pgvector table. A second run, whose items time out while the
stub model is still writing, leaves ``cancelled`` markers holding the part of the answer that
had streamed: tokens reached the forum's promise one by one, not with the finished answer.

Each run gets a database of its own on the session's PostgreSQL, so every message of its forum
is the run's, and a stub model name of its own, so no other test's recorded answers serve it.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from evoforum.forum import Message
from evoforum.genome.runnable import ASKED
from evoforum.llm._tokens import pieces
from evoforum.run.workspace import run_namespace
from tests.e2e.conftest import cli_env, evoforum, stub_server

pytestmark = pytest.mark.services

CONFIG: dict[str, Any] = {
    "experiment": {"name": "quickstart", "options": {"seeds": [], "solved": True}},
    "search_space": {"name": "code_writing", "options": {"review_chance": 1.0, "recall_chance": 1.0}},
    "algorithm": {"kind": "mu_plus_lambda", "population": 2, "offspring": 1, "generations": 1},
    "operators": {"bandit": False, "weights": {"mutate": 1.0, "rewrite": 0.0, "lmx": 0.0}},
    "llm": {"mode": "record", "model": "runtime-e2e"},
    "evaluation": {"backend": "local", "timeout_s": 60},
    "tracking": {"traces": "none"},
    "seed": 0,
}


async def fresh_database(postgres_url: str) -> str:
    """The URL of a new, empty database on the server of ``postgres_url``."""
    import asyncpg

    name = f"e2e_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    return postgres_url.rsplit("/", 1)[0] + "/" + name


async def messages_of(url: str) -> list[Message]:
    """Every message of the forum in the database at ``url``."""
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT payload FROM evoforum.messages")
    finally:
        await connection.close()
    return [Message.from_canonical(bytes(row["payload"])) for row in rows]


def write_config(path: Path, changes: dict[str, dict[str, Any]]) -> Path:
    config = {key: {**value, **changes.get(key, {})} if isinstance(value, dict) else value
              for key, value in CONFIG.items()}  # fmt: skip
    path.write_text(yaml.safe_dump(config))
    return path


async def run_cli(*args: str, env: dict[str, str]) -> Any:
    """``evoforum ARGS`` in a thread, so the session's services (on this loop) go on answering."""
    return await asyncio.to_thread(evoforum, *args, env=env)


@pytest.fixture(scope="module")
async def reviewed_run(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, nats_url: str
) -> tuple[Path, str, dict[str, str]]:
    """A finished run folder, its forum's database URL and the CLI's environment."""
    tmp = tmp_path_factory.mktemp("runtime")
    database = await fresh_database(postgres_url)
    env = cli_env(tmp, postgres_url=database, nats_url=nats_url)
    out = tmp / "run"
    with stub_server() as url:
        config = write_config(tmp / "config.yaml", {"llm": {"url": url}})
        done = await run_cli("run", str(config), "--out", str(out), "--quiet", env=env)
    assert done.returncode == 0, done.stderr
    return out, database, env


async def test_the_candidates_bus_messages_cross_nats_into_the_forum_and_show_resolves_them(
    reviewed_run: tuple[Path, str, dict[str, str]],
) -> None:
    out, database, env = reviewed_run
    messages = await messages_of(database)
    by_hash = {m.hash: m for m in messages}
    asked = [m for m in messages if str(m.metadata.get("subject", "")).endswith(".code.review")]
    replies = [m for m in messages if str(m.metadata.get("subject", "")).endswith(".code.review.reply")]
    summary = orjson.loads((out / "summary.json").read_bytes())
    assert summary["item_evaluations"] > 0
    # one review per item a candidate ran (valid items of three candidates, then the winner's test
    # items); identical requests (same problem and draft) are one message
    assert len(asked) >= 3
    assert len(replies) >= len(asked)
    for reply in replies:  # each reply hangs below its request, on the same room's subject
        request = by_hash[reply.parent]
        assert reply.metadata["subject"] == request.metadata["subject"] + ".reply"
        assert set(request.content) == {"problem", "draft"}
        assert reply.content["text"]
    reply = replies[0]
    shown = await run_cli("show", reply.hash[:16], "--out", str(out), env=env)
    assert shown.returncode == 0, shown.stderr
    headers = [line for line in shown.stdout.splitlines() if line.startswith("[")]
    assert len(headers) == 2  # the request, then the reply
    assert headers[0].split()[-1] == reply.parent[:16]
    assert headers[1].split()[-1] == reply.hash[:16]
    assert reply.metadata["subject"] in shown.stdout


async def test_the_solved_train_problems_are_rows_of_the_runs_pgvector_table(
    reviewed_run: tuple[Path, str, dict[str, str]],
) -> None:
    import asyncpg

    import experiments

    out, database, _ = reviewed_run
    solved = experiments.get("quickstart", {"solved": True}).recall_items()
    connection = await asyncpg.connect(database)
    try:
        rows = await connection.fetch(f"SELECT * FROM {run_namespace(out)}_solved")
    finally:
        await connection.close()
    assert len(rows) == len(solved) == 7
    # the writers were shown what the recall found: a solution's body in the prompt
    prompts = [m.text for m in await messages_of(database) if m.metadata.get("event") == ASKED]
    assert any("return a + b" in p or "return s[::-1]" in p for p in prompts)


async def test_answers_stream_token_by_token_into_the_forum(
    tmp_path: Path, postgres_url: str, nats_url: str
) -> None:
    database = await fresh_database(postgres_url)
    env = cli_env(tmp_path, postgres_url=database, nats_url=nats_url)
    # every answer takes several seconds at 0.25 s a piece; each item's 1.5 s ends it mid-answer
    changes: dict[str, dict[str, Any]] = {
        "experiment": {"options": {"seeds": [2]}},
        "search_space": {"options": {}},
        "algorithm": {"population": 1, "offspring": 1, "generations": 1},
        "llm": {"model": "runtime-e2e-stream"},
        "evaluation": {"timeout_s": 1.5},
    }
    with stub_server("--token-delay", "0.25") as url:
        changes["llm"]["url"] = url
        config = write_config(tmp_path / "config.yaml", changes)
        done = await run_cli("run", str(config), "--out", str(tmp_path / "run"), "--quiet", env=env)
    assert done.returncode == 0, done.stderr
    messages = await messages_of(database)
    prompts = {m.hash for m in messages if m.metadata.get("event") == ASKED}
    answered = [m for m in messages if m.parent in prompts]  # what the writer agent said
    markers = [m for m in answered if m.kind == "cancelled"]
    assert markers, "no model call was cut short"
    assert all(m.sender == "writer" for m in markers)
    # what had streamed when the time limit hit: several pieces, not the finished answer
    assert max(len(pieces(m.text)) for m in markers) >= 2
    # no call finished: the markers' text came only as tokens
    assert [m for m in answered if m.kind != "cancelled"] == []
