"""The ``Bus`` contract: every backend (in memory, NATS) passes the same tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from evoforum.bus import DeadLetter, Envelope, ForumHook, MemoryBus, NatsBus, Subject
from evoforum.errors import BackendError, SchemaMismatch, Timeout, UsageError
from evoforum.hashing import digest
from tests._waiting import eventually

RawPublish = Callable[[str, bytes, bool], Awaitable[None]]


class ReviewRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    code: str
    lines: int


class Review(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    verdict: str


class Other(BaseModel):
    note: str


def name(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=["memory", pytest.param("nats", marks=pytest.mark.services)])
def bus_url(request: pytest.FixtureRequest) -> str | None:
    """None for the in-memory bus, else the NATS server's URL (started on first use)."""
    return None if request.param == "memory" else str(request.getfixturevalue("nats_url"))


@pytest.fixture
async def backend(bus_url: str | None) -> AsyncIterator[tuple[Any, RawPublish]]:
    if bus_url is None:
        memory = MemoryBus()

        async def raw_memory(subject: str, data: bytes, durable: bool) -> None:
            await memory.publish_raw(subject, data, durable=durable)

        yield memory, raw_memory
        await memory.close()
        return
    import nats

    bus = await NatsBus.connect(bus_url)
    foreign = await nats.connect(bus_url)  # another program that knows nothing of schemas

    async def raw_nats(subject: str, data: bytes, durable: bool) -> None:
        if durable:
            await foreign.jetstream().publish(subject, data)
        else:
            await foreign.publish(subject, data)
            await foreign.flush()

    try:
        yield bus, raw_nats
    finally:
        await bus.close()
        await foreign.close()


@pytest.fixture
def bus(backend: tuple[Any, RawPublish]) -> Any:
    return backend[0]


async def test_subscriber_gets_typed_objects(bus: Any) -> None:
    subject = Subject(name("review.requests"), ReviewRequest)
    got: list[Envelope[ReviewRequest]] = []

    async def handler(envelope: Envelope[ReviewRequest]) -> None:
        got.append(envelope)

    await bus.subscribe(subject, handler)
    await bus.publish(subject, ReviewRequest(code="x = 1", lines=1))
    await bus.publish(subject, {"code": "y = 2", "lines": 1})  # a mapping that fits is validated
    await eventually(lambda: len(got) == 2)
    assert [e.data for e in got] == [
        ReviewRequest(code="x = 1", lines=1),
        ReviewRequest(code="y = 2", lines=1),
    ]
    assert all(isinstance(e.data, ReviewRequest) and e.subject == subject.name for e in got)


async def test_publish_rejects_what_does_not_fit(bus: Any) -> None:
    subject = Subject(name("review.requests"), ReviewRequest)
    got: list[Any] = []

    async def handler(envelope: Envelope[ReviewRequest]) -> None:
        got.append(envelope.data)

    await bus.subscribe(subject, handler)
    with pytest.raises(SchemaMismatch, match="carries ReviewRequest, not Other"):
        await bus.publish(subject, Other(note="hi"))
    with pytest.raises(SchemaMismatch, match="lines"):
        await bus.publish(subject, {"code": "x", "lines": "many"})
    await bus.publish(subject, ReviewRequest(code="ok", lines=1))
    await eventually(lambda: len(got) == 1)
    assert got == [ReviewRequest(code="ok", lines=1)]


async def test_foreign_garbage_is_dropped_and_reported(backend: tuple[Any, RawPublish]) -> None:
    bus, raw = backend
    subject = Subject(name("review.requests"), ReviewRequest)
    got: list[Any] = []
    reported: list[SchemaMismatch] = []

    async def handler(envelope: Envelope[ReviewRequest]) -> None:
        got.append(envelope.data)

    subscription = await bus.subscribe(subject, handler, on_reject=reported.append)
    await raw(subject.name, b'{"code": "x"}', False)
    await raw(subject.name, b"not json at all", False)
    await raw(subject.name, b'{"code": "fine", "lines": 3}', False)
    await eventually(lambda: len(got) == 1 and len(reported) == 2)
    assert got == [ReviewRequest(code="fine", lines=3)]
    assert subscription.rejected == 2
    assert all(isinstance(error, SchemaMismatch) for error in reported)
    assert "lines" in str(reported[0])
    assert subject.name in str(reported[0])


async def test_a_message_sent_right_after_subscribe_returns_arrives(backend: tuple[Any, RawPublish]) -> None:
    """``subscribe`` returns once the server routes to it (nats-py's flush alone raced the SUB)."""
    bus, raw = backend
    for _ in range(200):
        subject = Subject(name("review.first"), ReviewRequest)
        got: list[Any] = []

        async def handler(envelope: Envelope[ReviewRequest], got: list[Any] = got) -> None:
            got.append(envelope.data)

        subscription = await bus.subscribe(subject, handler)
        await raw(subject.name, b'{"code": "first", "lines": 1}', False)
        await raw(subject.name, b'{"code": "second", "lines": 2}', False)
        await eventually(lambda got=got: len(got) == 2)  # type: ignore[misc]
        assert [request.code for request in got] == ["first", "second"]
        await subscription.close()


async def test_request_reply(bus: Any) -> None:
    subject = Subject(name("review.ask"), ReviewRequest, reply=Review)

    async def reviewer(envelope: Envelope[ReviewRequest]) -> Review:
        return Review(verdict=f"{envelope.data.lines} line(s) of {envelope.data.code!r} look fine")

    await bus.subscribe(subject, reviewer)
    reply = await bus.request(subject, ReviewRequest(code="x", lines=2), timeout=5.0)
    assert reply.data == Review(verdict="2 line(s) of 'x' look fine")


async def test_request_times_out(bus: Any) -> None:
    subject = Subject(name("review.slow"), ReviewRequest, reply=Review)
    with pytest.raises(Timeout):  # nobody listens
        await bus.request(subject, ReviewRequest(code="x", lines=1), timeout=0.2)
    release = asyncio.Event()

    async def slow(envelope: Envelope[ReviewRequest]) -> Review:
        await release.wait()
        return Review(verdict="late")

    await bus.subscribe(subject, slow)
    with pytest.raises(Timeout, match=r"within 0\.2 s"):
        await bus.request(subject, ReviewRequest(code="x", lines=1), timeout=0.2)
    release.set()


async def test_request_errors_reach_the_requester(backend: tuple[Any, RawPublish]) -> None:
    bus, _ = backend
    subject = Subject(name("review.broken"), ReviewRequest, reply=Review)

    async def wrong(envelope: Envelope[ReviewRequest]) -> Any:
        return {"verdict": 3} if envelope.data.lines else Other(note="not a review")

    await bus.subscribe(subject, wrong)
    with pytest.raises(BackendError, match="reply does not fit"):
        await bus.request(subject, ReviewRequest(code="x", lines=0), timeout=5.0)
    with pytest.raises(SchemaMismatch):
        await bus.request(subject, {"code": "x"}, timeout=5.0)


async def test_transcript_hash_travels_with_the_message(bus: Any) -> None:
    subject = Subject(name("review.ask"), ReviewRequest, reply=Review)
    seen: list[str | None] = []

    async def reviewer(envelope: Envelope[ReviewRequest]) -> Review:
        seen.append(envelope.transcript)
        return Review(verdict="ok")

    await bus.subscribe(subject, reviewer)
    transcript = digest({"conversation": 1}, domain="test")
    reply = await bus.request(subject, ReviewRequest(code="x", lines=1), transcript=transcript)
    assert seen == [transcript]
    assert reply.transcript == transcript  # without a forum the reply stays on the same branch
    with pytest.raises(UsageError, match="not a message-tree hash"):
        await bus.publish(subject, ReviewRequest(code="x", lines=1), transcript="nope")


async def test_durable_messages_wait_for_their_consumer_and_are_redelivered(bus: Any) -> None:
    subject = Subject(name("review.jobs"), ReviewRequest, durable=True)
    for lines in range(3):
        await bus.publish(subject, ReviewRequest(code="job", lines=lines))  # stored, nobody listens yet
    attempts: dict[int, list[int]] = {}

    async def flaky(envelope: Envelope[ReviewRequest]) -> None:
        attempts.setdefault(envelope.data.lines, []).append(envelope.attempt)
        if envelope.data.lines == 1 and envelope.attempt == 1:
            raise RuntimeError("transient failure")

    await bus.subscribe(subject, flaky, consumer=f"reviewer{uuid.uuid4().hex[:6]}")
    await eventually(lambda: attempts.get(1) == [1, 2] and len(attempts) == 3)
    await asyncio.sleep(0.3)  # nothing else arrives: a handled message is not redelivered
    assert attempts == {0: [1], 1: [1, 2], 2: [1]}


async def test_durable_ack_only_after_the_handler_returned(bus: Any) -> None:
    subject = Subject(name("review.jobs"), ReviewRequest, durable=True)
    consumer = f"worker{uuid.uuid4().hex[:6]}"
    started = asyncio.Event()

    async def crashes_midway(envelope: Envelope[ReviewRequest]) -> None:
        started.set()
        await asyncio.sleep(3600)  # the worker dies before it finishes

    first = await bus.subscribe(subject, crashes_midway, consumer=consumer)
    await bus.publish(subject, ReviewRequest(code="important", lines=1))
    await asyncio.wait_for(started.wait(), 10)
    await first.close()
    done: list[ReviewRequest] = []

    async def finishes(envelope: Envelope[ReviewRequest]) -> None:
        done.append(envelope.data)

    await bus.subscribe(subject, finishes, consumer=consumer)
    await eventually(lambda: done == [ReviewRequest(code="important", lines=1)])


async def test_durable_gives_up_after_max_attempts_reports_the_dead_letter_and_drops_garbage(
    backend: tuple[Any, RawPublish],
) -> None:
    bus, raw = backend
    subject = Subject(name("review.jobs"), ReviewRequest, durable=True)
    consumer = f"c{uuid.uuid4().hex[:6]}"
    calls: list[int] = []
    reported: list[SchemaMismatch] = []
    dead: list[DeadLetter] = []

    async def always_fails(envelope: Envelope[ReviewRequest]) -> None:
        calls.append(envelope.attempt)
        raise RuntimeError("poison")

    await bus.publish(subject, ReviewRequest(code="poison", lines=1))  # creates the stream
    await raw(subject.name, b'{"nonsense": true}', True)
    await bus.subscribe(
        subject,
        always_fails,
        consumer=consumer,
        max_attempts=3,
        on_reject=reported.append,
        on_dead=dead.append,
    )
    await eventually(lambda: calls == [1, 2, 3] and len(reported) == 1 and len(dead) == 1)
    await asyncio.sleep(0.5)
    assert calls == [1, 2, 3]
    assert len(reported) == 1
    [letter] = dead  # the schema failure is rejected, not dead: it never reached the handler
    assert (letter.subject, letter.consumer, letter.attempts) == (subject.name, consumer, 3)
    assert subject.decode(letter.data) == ReviewRequest(code="poison", lines=1)
    assert "poison" in letter.reason


async def test_usage_errors(bus: Any) -> None:
    plain = Subject(name("plain"), ReviewRequest)
    durable = Subject(name("durable"), ReviewRequest, durable=True, reply=Review)

    async def handler(envelope: Envelope[ReviewRequest]) -> None:
        return None

    with pytest.raises(UsageError, match="consumer="):
        await bus.subscribe(durable, handler)
    with pytest.raises(UsageError, match="needs a durable subject"):
        await bus.subscribe(plain, handler, consumer="x")
    with pytest.raises(UsageError, match="no reply schema"):
        await bus.request(plain, ReviewRequest(code="x", lines=1))
    with pytest.raises(UsageError, match="durable"):
        await bus.request(durable, ReviewRequest(code="x", lines=1))
    with pytest.raises(UsageError, match="invalid"):
        Subject("review.*", ReviewRequest)


class _Forum:
    """A forum-like store: content-addressed posts, as ``evoforum.Forum.post`` does."""

    def __init__(self) -> None:
        self.posts: dict[str, dict[str, Any]] = {}

    async def post(self, message: dict[str, Any]) -> str:
        key = digest(message, domain="test-message")
        self.posts[key] = message
        return key


def _as_message(subject: str, value: BaseModel, parent: str | None) -> dict[str, Any]:
    return {"sender": subject, "content": value.model_dump(mode="json"), "parent": parent}


async def test_forum_hook_lands_dialogue_in_the_forum(backend: tuple[Any, RawPublish]) -> None:
    bus, _ = backend
    forum = _Forum()
    hook = ForumHook(forum, _as_message)
    hooked = MemoryBus(forum=hook) if isinstance(bus, MemoryBus) else NatsBus(bus.client, forum=hook)
    subject = Subject(name("review.ask"), ReviewRequest, reply=Review)
    seen: list[str | None] = []

    async def reviewer(envelope: Envelope[ReviewRequest]) -> Review:
        seen.append(envelope.transcript)
        return Review(verdict="ship it")

    try:
        await hooked.subscribe(subject, reviewer)
        root = digest({"root": True}, domain="test")
        reply = await hooked.request(subject, ReviewRequest(code="x", lines=1), transcript=root)
    finally:
        await hooked.close()
    request_hash = seen[0]
    assert request_hash is not None
    assert forum.posts[request_hash]["parent"] == root
    assert reply.transcript is not None
    assert forum.posts[reply.transcript] == {
        "sender": subject.name + ".reply",
        "content": {"verdict": "ship it"},
        "parent": request_hash,
    }


async def test_a_closed_bus_refuses_work(bus_url: str | None) -> None:
    bus: Any = MemoryBus() if bus_url is None else await NatsBus.connect(bus_url)
    await bus.close()
    subject = Subject(name("after.close"), ReviewRequest)
    durable = Subject(name("after.close"), ReviewRequest, durable=True)
    with pytest.raises(BackendError):
        await bus.publish(subject, ReviewRequest(code="x", lines=1))
    with pytest.raises(BackendError):
        await bus.publish(durable, ReviewRequest(code="x", lines=1))
