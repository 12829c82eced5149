"""The forum store contract: the in-memory and the PostgreSQL store pass the same tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from evoforum.errors import AgentFailed, ForumError, IntegrityError, UnknownMessage
from evoforum.forum import Forum, InMemoryStore, Message, PostgresStore, agent

Tamper = Callable[[str], Awaitable[None]]
Relink = Callable[[str, str], Awaitable[None]]


@pytest.fixture(params=["memory", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """None for the in-memory store, else the PostgreSQL URL (the service starts on first use)."""
    return None if request.param == "memory" else str(request.getfixturevalue("postgres_url"))


BRANCH_LIMIT = 400
"""The stores under test refuse branches deeper than this (their ``max_depth``)."""


@pytest.fixture
async def backend(store_url: str | None) -> AsyncIterator[tuple[Any, Tamper]]:
    """A fresh store (PostgreSQL: a schema of its own) and a way to corrupt one stored row."""
    if store_url is None:
        memory = InMemoryStore(max_depth=BRANCH_LIMIT)

        async def tamper_memory(hash_: str) -> None:
            original = await memory.get(hash_)
            memory._messages[hash_] = Message(str(original.content) + "!", original.sender, original.parent)

        yield memory, tamper_memory
        return
    store = await PostgresStore.connect(
        store_url, schema=f"t_{uuid.uuid4().hex[:12]}", max_depth=BRANCH_LIMIT
    )

    async def tamper_postgres(hash_: str) -> None:
        async with store._pool.acquire() as conn:
            await conn.execute(
                f'UPDATE "{store.schema}".messages SET payload = convert_to('
                "replace(convert_from(payload, 'UTF8'), '\"content\":\"', '\"content\":\"!'), 'UTF8')"
                " WHERE hash = $1",
                hash_,
            )

    try:
        yield store, tamper_postgres
    finally:
        await store.drop()
        await store.close()


@pytest.fixture
def relink(backend: tuple[Any, Tamper]) -> Relink:
    """A way to change the parent one stored message is filed under, behind the store's back."""
    store, _ = backend
    if isinstance(store, InMemoryStore):

        async def relink_memory(hash_: str, parent: str) -> None:
            original = store._messages[hash_]
            store._messages[hash_] = Message(original.content, original.sender, parent)

        return relink_memory

    async def relink_postgres(hash_: str, parent: str) -> None:
        async with store._pool.acquire() as conn:
            await conn.execute(
                f'UPDATE "{store.schema}".messages SET parent = $2 WHERE hash = $1', hash_, parent
            )

    return relink_postgres


def chain(*texts: str, sender: str = "user", parent: str | None = None) -> list[Message]:
    messages = []
    for text in texts:
        message = Message(text, sender, parent)
        messages.append(message)
        parent = message.hash
    return messages


async def test_put_get_round_trip_keeps_every_kind(backend: tuple[Any, Tamper]) -> None:
    store, _ = backend
    root = Message("question", "user")
    try:
        raise KeyError("missing")
    except KeyError as error:
        failed = Message.error(error, "solver", root.hash)
    reply = Message.reply(root, {"answer": 42, "ok": True, "items": [1.5, None]}, "bob", failed.hash)
    forward = Message.forward(reply, "carol", root.hash)
    await store.put_many([root, failed, reply, forward])
    for message in (root, failed, reply, forward):
        loaded = await store.get(message.hash)
        assert loaded == message
        assert loaded.model_dump() == message.model_dump()


async def test_error_message_reraises_after_a_round_trip(backend: tuple[Any, Tamper]) -> None:
    store, _ = backend
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError as error:
        message = Message.error(error, "calc")
    await store.put_many([message])
    loaded = await store.get(message.hash)
    with pytest.raises(AgentFailed, match="ZeroDivisionError: division by zero") as raised:
        loaded.raise_error()
    assert raised.value.error_type == "ZeroDivisionError"
    assert raised.value.error_text == "division by zero"


async def test_same_message_is_stored_once(backend: tuple[Any, Tamper]) -> None:
    store, _ = backend
    root = Message("hi")
    twin = Message("hi")
    await store.put_many([root, twin])
    await store.put_many([root])
    child = Message("there", parent=root.hash)
    await store.put_many([child])
    assert [m.hash for m in await store.children(root.hash)] == [child.hash]
    assert await store.resolve(root.hash[:10]) == root.hash


async def test_batch_order_does_not_matter_and_branch_runs_root_first(backend: tuple[Any, Tamper]) -> None:
    store, _ = backend
    messages = chain(*(f"turn {i}" for i in range(100)))
    await store.put_many(list(reversed(messages)))
    branch = await store.branch(messages[-1].hash)
    assert [m.hash for m in branch] == [m.hash for m in messages]
    assert await store.branch(messages[0].hash) == [messages[0]]


async def test_children_show_every_fork(backend: tuple[Any, Tamper]) -> None:
    store, _ = backend
    root = Message("start")
    forks = [Message(f"option {i}", parent=root.hash) for i in range(3)]
    await store.put_many([root, *forks])
    children = await store.children(root.hash)
    assert sorted(m.hash for m in children) == sorted(m.hash for m in forks)
    assert await store.children(forks[0].hash) == []


async def test_unknown_parent_rejects_the_whole_batch(backend: tuple[Any, Tamper]) -> None:
    store, _ = backend
    good = chain("a", "b")
    orphan = Message("lost", parent="f" * 64)
    with pytest.raises(UnknownMessage, match="parent"):
        await store.put_many([*good, orphan])
    for message in good:
        with pytest.raises(UnknownMessage):
            await store.get(message.hash)


async def test_large_batches_are_atomic_too(backend: tuple[Any, Tamper]) -> None:
    store, _ = backend
    good = chain(*(f"m{i}" for i in range(300)))
    await store.put_many(good[:150])
    await store.put_many(good)  # half already stored: stored once, the rest added
    assert len(await store.branch(good[-1].hash)) == 300
    more = chain(*(f"n{i}" for i in range(200)), parent=good[-1].hash)
    with pytest.raises(UnknownMessage):
        await store.put_many([*more, Message("x", parent="0" * 64)])
    with pytest.raises(UnknownMessage):
        await store.get(more[0].hash)


async def test_concurrent_writers_of_the_same_batch_store_it_once(backend: tuple[Any, Tamper]) -> None:
    store, _ = backend
    messages = chain(*(f"race {i}" for i in range(300)))
    await asyncio.gather(*(store.put_many(messages) for _ in range(4)))
    assert [m.hash for m in await store.branch(messages[-1].hash)] == [m.hash for m in messages]
    assert [m.hash for m in await store.children(messages[0].hash)] == [messages[1].hash]


async def test_unknown_hash_and_prefixes(backend: tuple[Any, Tamper]) -> None:
    store, _ = backend
    with pytest.raises(UnknownMessage):
        await store.get("a" * 64)
    with pytest.raises(UnknownMessage):
        await store.branch("a" * 64)
    first, second = _two_sharing_a_prefix()
    await store.put_many([first, second])
    assert await store.resolve(first.hash[:12].upper()) == first.hash
    with pytest.raises(UnknownMessage, match="ambiguous"):
        await store.resolve(first.hash[:4])
    with pytest.raises(UnknownMessage, match="not a hash prefix"):
        await store.resolve("xyz!")
    with pytest.raises(UnknownMessage, match="no message"):
        await store.resolve(_absent_prefix([first, second]))


def _two_sharing_a_prefix() -> tuple[Message, Message]:
    """Two messages whose hashes share their first four digits (found by counting up)."""
    seen: dict[str, Message] = {}
    for i in range(100_000):
        message = Message(f"m{i}")
        other = seen.setdefault(message.hash[:4], message)
        if other is not message:
            return other, message
    raise AssertionError("no shared prefix")


def _absent_prefix(messages: list[Message]) -> str:
    taken = {m.hash[:4] for m in messages}
    return next(f"{i:04x}" for i in range(65536) if f"{i:04x}" not in taken)


async def test_tampered_row_is_reported_not_served(backend: tuple[Any, Tamper]) -> None:
    store, tamper = backend
    messages = chain("keep", "change me", "after")
    await store.put_many(messages)
    await tamper(messages[1].hash)
    with pytest.raises(IntegrityError, match="no longer matches"):
        await store.get(messages[1].hash)
    with pytest.raises(IntegrityError):
        await store.branch(messages[2].hash)
    with pytest.raises(IntegrityError):
        await store.children(messages[0].hash)
    assert await store.get(messages[0].hash) == messages[0]


async def test_content_taken_from_a_message_or_the_store_cannot_change_what_is_served(
    backend: tuple[Any, Tamper],
) -> None:
    store, _ = backend
    content: dict[str, Any] = {"answer": 42, "steps": [1, 2], "nested": {"k": "v"}}
    metadata: dict[str, Any] = {"usage": {"tokens": 7}}
    root = Message(content, "solver", metadata=metadata)
    child = Message("next", "user", root.hash)
    await store.put_many([root, child])
    content["answer"] = 0  # the caller's own dicts: the message holds copies
    content["steps"].append(3)
    metadata["usage"]["tokens"] = 0
    for held in (root, await store.get(root.hash), (await store.branch(child.hash))[0]):
        with pytest.raises(TypeError, match="immutable"):
            held.content["answer"] = 0
        with pytest.raises(TypeError, match="immutable"):
            held.content["steps"].append(3)
        with pytest.raises(TypeError, match="immutable"):
            held.content["nested"].update(k="changed")
        with pytest.raises(TypeError, match="immutable"):
            held.metadata["usage"]["tokens"] = 0
    served = await store.get(root.hash)
    assert served.content == {"answer": 42, "steps": [1, 2], "nested": {"k": "v"}}
    assert served.metadata == {"usage": {"tokens": 7}}
    assert served == root
    assert Message.from_canonical(served.canonical()).hash == root.hash


async def test_a_branch_deeper_than_the_limit_is_refused(backend: tuple[Any, Tamper]) -> None:
    store, _ = backend
    messages = chain(*(f"d{i}" for i in range(BRANCH_LIMIT + 1)))
    await store.put_many(messages)
    assert len(await store.branch(messages[BRANCH_LIMIT - 1].hash)) == BRANCH_LIMIT
    with pytest.raises(ForumError, match=f"deeper than {BRANCH_LIMIT} messages"):
        await store.branch(messages[-1].hash)


async def test_a_cycle_in_the_stored_parents_is_reported_not_walked_forever(
    backend: tuple[Any, Tamper], relink: Relink
) -> None:
    store, _ = backend
    messages = chain("first", "second", "third")
    await store.put_many(messages)
    await relink(messages[0].hash, messages[-1].hash)  # the root now names the leaf as its parent
    with pytest.raises(IntegrityError):
        await asyncio.wait_for(store.branch(messages[-1].hash), 30)


async def test_refs_point_at_hashes(backend: tuple[Any, Tamper]) -> None:
    store, _ = backend
    assert await store.get_ref("cache", "k") is None
    hashes = [m.hash for m in chain("a", "b")]
    await store.put_ref("cache", "k", hashes)
    assert await store.get_ref("cache", "k") == hashes
    assert await store.get_ref("other", "k") is None
    await store.put_ref("cache", "k", hashes[:1])
    assert await store.get_ref("cache", "k") == hashes[:1]


async def test_forum_over_the_store(backend: tuple[Any, Tamper]) -> None:
    store, _ = backend
    forum = Forum(store)
    first = await forum.append(None, ["hello", "how are you?"])
    fork = await forum.post(Message("a different turn", parent=first[0].hash))
    assert [m.content for m in await forum.branch(fork)] == ["hello", "a different turn"]
    with pytest.raises(UnknownMessage):
        await forum.post(Message("orphan", parent="e" * 64))


async def test_agent_answers_and_errors_live_in_the_store(backend: tuple[Any, Tamper]) -> None:
    store, _ = backend
    forum = Forum(store)
    calls = 0

    @agent
    async def shout(branch: list[Message]) -> AsyncIterator[str]:
        nonlocal calls
        calls += 1
        yield branch[-1].content.upper()
        yield "!"

    @agent
    async def crash(branch: list[Message]) -> str:
        raise RuntimeError("out of ideas")

    first = await shout("hey", forum=forum)
    second = shout("hey", forum=forum)
    assert [token async for token in second] == ["HEY!"]
    assert await second == first
    assert calls == 1
    assert [m.content for m in await forum.branch(first.hash)] == ["hey", "HEY!"]
    failed = await crash("hey", forum=forum).settled()
    stored = await Forum(store).get(failed.hash)
    with pytest.raises(AgentFailed, match="RuntimeError: out of ideas"):
        stored.raise_error()


@pytest.mark.services
@pytest.mark.parametrize("synchronous", [False, True])
async def test_the_postgres_store_commits_asynchronously_unless_asked_to_wait(
    postgres_url: str, synchronous: bool
) -> None:
    store = await PostgresStore.connect(
        postgres_url, schema=f"t_{uuid.uuid4().hex[:12]}", synchronous_commit=synchronous
    )
    try:
        await store.put_many([Message("kept", "a")])
        async with store._pool.acquire() as conn:
            setting = await conn.fetchval("SHOW synchronous_commit")
        assert setting == ("on" if synchronous else "off")
        assert (await store.get(Message("kept", "a").hash)).text == "kept"
    finally:
        await store.drop()
        await store.close()
