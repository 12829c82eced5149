"""Response caching by (agent identity, branch hash), kept in the forum's store."""

from __future__ import annotations

from collections.abc import AsyncIterator

from evoforum.forum import Forum, Message, agent
from evoforum.forum.agent import CACHE_NAMESPACE, code_version


async def test_same_branch_hits_the_cache_and_streams_the_stored_answer() -> None:
    forum = Forum()
    calls: list[str] = []

    @agent
    async def echo(branch: list[Message]) -> AsyncIterator[str]:
        calls.append(branch[-1].content)
        yield "you said: "
        yield branch[-1].content

    first = await echo("ping", forum=forum)
    again = echo("ping", forum=forum)
    assert [token async for token in again] == ["you said: ping"]
    assert await again == first
    assert calls == ["ping"]
    await echo("pong", forum=forum)  # another branch: a miss
    assert calls == ["ping", "pong"]
    key = echo.cache_key(Message("ping").hash)
    assert await forum.store.get_ref(CACHE_NAMESPACE, key) == [first.hash]


async def test_opt_out_runs_every_time() -> None:
    forum = Forum()
    calls = 0

    @agent(cache=False)
    async def fresh(branch: list[Message]) -> str:
        nonlocal calls
        calls += 1
        return "new"

    await fresh("q", forum=forum)
    await fresh("q", forum=forum)
    assert calls == 2


async def test_a_changed_agent_never_reuses_an_old_answer() -> None:
    forum = Forum()

    async def v1(branch: list[Message]) -> str:
        return "old answer"

    async def v2(branch: list[Message]) -> str:
        return "new answer"

    old = agent(name="answerer")(v1)
    new = agent(name="answerer")(v2)
    new.qualname = old.qualname  # same name and place, different code
    assert old.version != new.version
    assert (await old("q", forum=forum)).content == "old answer"
    assert (await new("q", forum=forum)).content == "new answer"
    assert code_version(v1) == old.version


async def test_errors_are_not_cached() -> None:
    forum = Forum()
    attempts = 0

    @agent
    async def flaky(branch: list[Message]) -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise TimeoutError("try again")
        return "worked"

    assert (await flaky("q", forum=forum).settled()).kind == "error"
    assert (await flaky("q", forum=forum)).content == "worked"
    assert attempts == 2


async def test_without_a_forum_nothing_is_cached() -> None:
    calls = 0

    @agent
    async def plain(branch: list[Message]) -> str:
        nonlocal calls
        calls += 1
        return "x"

    await plain("q")
    await plain("q")
    assert calls == 2
