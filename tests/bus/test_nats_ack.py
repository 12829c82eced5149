"""NATS durable consumers under slow handlers: ``ack_wait``, ``in_progress`` heartbeats, one
message fetched at a time, and dead letters for deliveries nobody acknowledged."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from pydantic import BaseModel

from evoforum.bus import DeadLetter, Envelope, NatsBus, Subject
from tests._waiting import eventually

pytestmark = pytest.mark.services


class Job(BaseModel):
    n: int


def durable(prefix: str) -> Subject[Job, None]:
    return Subject(f"{prefix}.{uuid.uuid4().hex[:10]}", Job, durable=True)


async def slow_consumer_sees_each_job_once(bus: NatsBus, subject: Subject[Job, None], consumer: str) -> None:
    """Three jobs, each handled for 1.5 s by a consumer whose ``ack_wait`` is 1 s: each is handled
    once, on its first delivery."""
    for n in range(3):
        await bus.publish(subject, Job(n=n))
    seen: list[tuple[int, int]] = []

    async def slow(envelope: Envelope[Job]) -> None:
        seen.append((envelope.data.n, envelope.attempt))
        await asyncio.sleep(1.5)  # an LLM call, longer than ack_wait

    await bus.subscribe(subject, slow, consumer=consumer)
    await eventually(lambda: len(seen) >= 3, within=15.0)
    await asyncio.sleep(2.0)  # a redelivery would arrive within ack_wait of the last handler's end
    assert sorted(seen) == [(0, 1), (1, 1), (2, 1)]


async def test_a_handler_slower_than_ack_wait_is_not_redelivered(nats_url: str) -> None:
    async with await NatsBus.connect(nats_url, ack_wait=1.0) as bus:
        subject = durable("slow.jobs")
        consumer = f"slow{uuid.uuid4().hex[:6]}"
        await slow_consumer_sees_each_job_once(bus, subject, consumer)
        info = await bus.client.jetstream().consumer_info(subject.stream, consumer)
        assert info.config.ack_wait == pytest.approx(1.0)


async def test_heartbeats_follow_the_ack_wait_of_a_consumer_made_elsewhere(nats_url: str) -> None:
    from nats.js.api import AckPolicy, ConsumerConfig

    subject = durable("slow.elsewhere")
    consumer = f"made{uuid.uuid4().hex[:6]}"
    async with await NatsBus.connect(nats_url) as bus:  # its own consumers would wait 30 s
        await bus.publish(subject, Job(n=-1))  # creates the stream
        js = bus.client.jetstream()
        config = ConsumerConfig(
            durable_name=consumer, ack_policy=AckPolicy.EXPLICIT, ack_wait=1.0, max_deliver=5
        )
        await js.add_consumer(subject.stream, config)
        await js.purge_stream(subject.stream)
        await slow_consumer_sees_each_job_once(bus, subject, consumer)


async def test_a_message_never_acknowledged_is_reported_dead_at_max_deliver(nats_url: str) -> None:
    from nats.js.api import AckPolicy, ConsumerConfig

    subject = durable("lost.jobs")
    consumer = f"lost{uuid.uuid4().hex[:6]}"
    async with await NatsBus.connect(nats_url, ack_wait=1.0) as bus:
        await bus.publish(subject, Job(n=7))
        js = bus.client.jetstream()
        config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=1.0, max_deliver=2)
        crashing = await js.pull_subscribe(
            subject.name, durable=consumer, stream=subject.stream, config=config
        )
        for _ in range(2):  # two workers each take the job and die before acknowledging it
            [msg] = await crashing.fetch(1, timeout=5)
            assert msg.metadata.num_delivered == _ + 1
        dead: list[DeadLetter] = []
        handled: list[Job] = []

        async def handler(envelope: Envelope[Job]) -> None:
            handled.append(envelope.data)

        await bus.subscribe(subject, handler, consumer=consumer, max_attempts=2, on_dead=dead.append)
        await eventually(lambda: len(dead) == 1, within=15.0)
        [letter] = dead
        assert (letter.subject, letter.consumer, letter.attempts) == (subject.name, consumer, 2)
        assert subject.decode(letter.data) == Job(n=7)
        assert "acknowledged" in letter.reason
        assert handled == []
