"""A NATS server restart loses nothing that JetStream acknowledged (private server per test)."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from evoforum.bus import Envelope, NatsBus, Subject
from evoforum.errors import ServiceUnavailable
from tests._nats_server import Server, free_port, server
from tests._waiting import eventually

pytestmark = pytest.mark.services

__all__ = ["server"]  # the fixture


class Item(BaseModel):
    n: int


async def test_nothing_acknowledged_is_lost_across_a_restart(server: Server) -> None:
    await server.wait_ready()
    subject = Subject("jobs.restart", Item, durable=True)
    handled: set[int] = set()

    async def handler(envelope: Envelope[Item]) -> None:
        handled.add(envelope.data.n)

    async with await NatsBus.connect(server.url) as bus:
        await bus.subscribe(subject, handler, consumer="keeper")
        acknowledged: list[int] = []

        async def publish(numbers: range) -> None:
            for n in numbers:
                await bus.publish(subject, Item(n=n))
                acknowledged.append(n)  # publish returned: JetStream stored it

        await publish(range(40))
        server.kill()
        during = asyncio.create_task(publish(range(40, 60)))  # retries until the server is back
        await asyncio.sleep(0.5)
        assert not during.done()
        server.start()
        await server.wait_ready()
        await during
        await publish(range(60, 100))
        await eventually(lambda: handled >= set(acknowledged), within=30.0)
        assert acknowledged == list(range(100))
        assert handled == set(range(100))


async def test_the_consumer_survives_a_restart_while_idle(server: Server) -> None:
    await server.wait_ready()
    subject = Subject("jobs.idle", Item, durable=True)
    handled: list[int] = []

    async def handler(envelope: Envelope[Item]) -> None:
        handled.append(envelope.data.n)

    async with await NatsBus.connect(server.url) as bus:
        await bus.subscribe(subject, handler, consumer="idle")
        await bus.publish(subject, Item(n=1))
        await eventually(lambda: handled == [1], within=30.0)
        server.kill()
        await asyncio.sleep(0.3)
        server.start()
        await server.wait_ready()
        await bus.publish(subject, Item(n=2))
        await eventually(lambda: 2 in handled, within=30.0)
        assert sorted(set(handled)) == [1, 2]


async def test_connecting_to_nothing_is_a_clear_error() -> None:
    with pytest.raises(ServiceUnavailable, match="cannot connect to NATS"):
        await NatsBus.connect(f"nats://127.0.0.1:{free_port()}")
