"""Concurrency follows the server: its slots (``/props``) unless the config names a limit."""

from __future__ import annotations

import random

import pytest

from evoforum.llm import Ledger, Limited
from evoforum.llm.config import LLMConfig, open_client
from evoforum.llm.protocol import LLMClient, Wrapper
from evoforum.llm.slots import DEFAULT_CONCURRENCY, props_url, server_slots, slots_of
from evoforum.llm.stub import StubServer
from evoforum.services._state import free_port


def limit_of(client: LLMClient) -> int:
    """The ``Limited`` layer's limit somewhere in a wrapped stack."""
    while not isinstance(client, Limited):
        assert isinstance(client, Wrapper), f"no Limited layer in the stack (reached {client!r})"
        client = client.inner
    return client.max_concurrent


@pytest.mark.parametrize(
    ("base", "props"),
    [
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/props"),
        ("http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080/props"),
        ("http://h/api", "http://h/api/props"),
    ],
)
def test_props_sits_beside_the_openai_routes(base: str, props: str) -> None:
    assert props_url(base) == props


@pytest.mark.parametrize(
    ("document", "slots"),
    [
        ({"total_slots": 4}, 4),
        ({"total_slots": 0}, None),
        ({"total_slots": True}, None),
        ({}, None),
        ([], None),
    ],
)
def test_only_a_positive_slot_count_counts(document: object, slots: int | None) -> None:
    assert slots_of(document) == slots


async def test_the_slots_a_server_reports_are_read() -> None:
    async with StubServer(slots=3) as server:
        assert await server_slots(server.url) == 3


async def test_a_server_that_does_not_say_has_no_slot_count() -> None:
    async with StubServer() as server:
        assert await server_slots(server.url) is None
    assert await server_slots(f"http://127.0.0.1:{free_port()}/v1", within=1.0) is None


async def test_the_client_stack_takes_the_server_slots_unless_the_config_sets_a_limit() -> None:
    async with StubServer(slots=3) as server:
        follows = LLMConfig(url=server.url, model="stub")
        async with open_client(follows, ledger=Ledger(), rng=random.Random(0)) as client:
            assert limit_of(client) == 3
        pinned = LLMConfig(url=server.url, model="stub", max_concurrent=5)
        async with open_client(pinned, ledger=Ledger(), rng=random.Random(0)) as client:
            assert limit_of(client) == 5
    async with StubServer() as silent:
        config = LLMConfig(url=silent.url, model="stub")
        async with open_client(config, ledger=Ledger(), rng=random.Random(0)) as client:
            assert limit_of(client) == DEFAULT_CONCURRENCY
