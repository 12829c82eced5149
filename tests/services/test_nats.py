"""The embedded NATS server: plain publish/subscribe and a JetStream publish."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.services


async def test_publish_reaches_a_subscriber(nats_url: str) -> None:
    import nats

    client = await nats.connect(nats_url)
    try:
        subscription = await client.subscribe("evoforum.test.greeting")
        await client.publish("evoforum.test.greeting", b"hello")
        message = await subscription.next_msg(timeout=5)
        assert message.data == b"hello"
    finally:
        await client.drain()


async def test_jetstream_stores_a_published_message(nats_url: str) -> None:
    import nats

    client = await nats.connect(nats_url)
    try:
        stream = client.jetstream()
        await stream.add_stream(name="EVOFORUM_TEST", subjects=["evoforum.jetstream.>"])
        ack = await stream.publish("evoforum.jetstream.one", b"kept")
        assert ack.stream == "EVOFORUM_TEST"
        consumer = await stream.pull_subscribe("evoforum.jetstream.one", durable="reader")
        [message] = await consumer.fetch(1, timeout=5)
        assert message.data == b"kept"
        await message.ack()
        info = await stream.stream_info("EVOFORUM_TEST")
        assert info.state.messages == 1
    finally:
        await asyncio.wait_for(client.drain(), 10)
