"""The forum over the in-memory store: posting, branches, forks, forwarding and replies."""

from __future__ import annotations

import pytest

from evoforum.errors import UnknownMessage
from evoforum.forum import Forum, InMemoryStore, Message


async def test_post_get_branch() -> None:
    forum = Forum()
    root = await forum.post(Message("hi", "user"))
    answer = await forum.post(Message("hello!", "bot", root))
    assert (await forum.get(answer)).content == "hello!"
    assert [m.content for m in await forum.branch(answer)] == ["hi", "hello!"]
    assert [m.hash for m in await forum.children(root)] == [answer]


async def test_posting_twice_stores_once() -> None:
    store = InMemoryStore()
    forum = Forum(store)
    first = await forum.post(Message("same"))
    second = await forum.post(Message("same"))
    assert first == second
    assert len(store) == 1


async def test_unknown_parent_is_refused() -> None:
    forum = Forum()
    with pytest.raises(UnknownMessage, match="parent"):
        await forum.post(Message("orphan", parent="c" * 64))
    with pytest.raises(UnknownMessage):
        await forum.get("c" * 64)


async def test_fork_from_any_earlier_message_shares_the_prefix() -> None:
    forum = Forum()
    main = await forum.append(None, ["q", "a1", "q2", "a2"], sender="user")
    fork = await forum.append(main[1].hash, ["other q2"], sender="user")
    main_branch = await forum.branch(main[-1].hash)
    fork_branch = await forum.branch(fork[-1].hash)
    assert main_branch[:2] == fork_branch[:2]
    assert [m.content for m in fork_branch] == ["q", "a1", "other q2"]
    assert sorted(m.content for m in await forum.children(main[1].hash)) == ["other q2", "q2"]


async def test_append_reparents_messages_and_identical_history_gives_identical_hash() -> None:
    forum = Forum()
    a = await forum.append(None, ["x", Message("y", "bot")])
    b = await forum.append(None, ["x", Message("y", "bot", parent="d" * 64)])
    assert a[-1].hash == b[-1].hash
    assert a[-1].parent == a[0].hash


async def test_forward_onto_another_branch() -> None:
    forum = Forum()
    left = await forum.append(None, ["left question", "left answer"])
    right = await forum.append(None, ["right question"])
    forwarded = await forum.forward(left[1].hash, right[-1].hash, sender="router")
    assert forwarded.ref == left[1].hash
    assert [m.content for m in await forum.branch(forwarded.hash)] == ["right question", "left answer"]


async def test_reply_to_a_specific_earlier_message() -> None:
    forum = Forum()
    chat = await forum.append(None, ["first", "second", "third"])
    reply = await forum.reply(chat[0], "about the first", sender="bot", at=chat[-1].hash)
    assert reply.ref == chat[0].hash
    assert reply.parent == chat[-1].hash
    assert (await forum.get(reply.hash)).kind == "reply"
    direct = await forum.reply(chat[1].hash, "threaded", sender="bot")
    assert direct.parent == chat[1].hash
    with pytest.raises(UnknownMessage):
        await forum.reply("f" * 64, "to nothing")


async def test_resolve_a_prefix() -> None:
    forum = Forum()
    posted = await forum.post(Message("find me"))
    assert await forum.resolve(posted[:8]) == posted
