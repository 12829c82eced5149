"""Response caching by (agent identity, branch hash), kept in the forum's store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from evoforum.errors import UsageError
from evoforum.forum import Agent, Forum, Message, agent
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


def _speaker(name: str, prompt: str, *, version: str | None = None) -> Agent:
    @agent(name=name, version=version)
    async def speak(branch: list[Message]) -> str:
        return f"{prompt}: {branch[-1].content}"

    return speak


async def test_agents_of_one_factory_keep_their_own_answers() -> None:
    forum = Forum()
    alice, bob = _speaker("alice", "yes"), _speaker("bob", "no")
    assert alice.identity != bob.identity
    first = await alice("q", forum=forum)
    second = await bob("q", forum=forum)
    assert (first.sender, first.content) == ("alice", "yes: q")
    assert (second.sender, second.content) == ("bob", "no: q")


async def test_the_name_alone_tells_two_agents_apart() -> None:
    forum = Forum()
    one, two = _speaker("one", "same"), _speaker("two", "same")
    assert (await one("q", forum=forum)).sender == "one"
    assert (await two("q", forum=forum)).sender == "two"
    again = _speaker("one", "same")
    assert again.identity == one.identity  # the same factory call again: a hit


async def test_defaults_are_part_of_the_identity() -> None:
    forum = Forum()

    def make(tone: str) -> Agent:
        async def reply(branch: list[Message], tone: str = tone) -> str:
            return tone

        return agent(name="replier")(reply)

    calm, loud = make("calm"), make("LOUD")
    assert (await calm("q", forum=forum)).content == "calm"
    assert (await loud("q", forum=forum)).content == "LOUD"


async def test_a_closure_value_that_cannot_be_hashed_asks_for_a_version() -> None:
    forum = Forum()
    lock = asyncio.Lock()

    @agent
    async def guarded(branch: list[Message]) -> str:
        async with lock:
            return "done"

    with pytest.raises(UsageError, match=r"closure value 'lock' of .*guarded is a Lock.*version="):
        guarded("q", forum=forum)
    assert (await guarded("q")).content == "done"  # without a forum there is nothing to key
    pinned = agent(version="v1")(guarded.target)
    assert (await pinned("q", forum=forum)).content == "done"
    assert pinned.identity.endswith("@v1")


def test_an_agent_held_in_a_closure_counts_by_its_identity() -> None:
    def boss_over(inner: Agent) -> Agent:
        @agent(name="boss")
        async def boss(branch: list[Message]) -> AsyncIterator[object]:
            yield inner(branch)

        return boss

    assert boss_over(_speaker("s", "yes")).identity != boss_over(_speaker("s", "no")).identity
    assert boss_over(_speaker("s", "yes")).identity == boss_over(_speaker("s", "yes")).identity
