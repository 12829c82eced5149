"""The ``KeyValue`` contract: the in-memory and the NATS KV backends pass the same tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from evoforum.errors import UsageError
from evoforum.memory import KeyValue, MemoryKV, NatsKV


@pytest.fixture(params=["memory", pytest.param("nats", marks=pytest.mark.services)])
def kv_url(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "memory" else str(request.getfixturevalue("nats_url"))


@pytest.fixture
async def kv(kv_url: str | None) -> AsyncIterator[Any]:
    if kv_url is None:
        yield MemoryKV()
        return
    store = await NatsKV.connect(kv_url, f"test_{uuid.uuid4().hex[:10]}")
    try:
        yield store
    finally:
        await store.close()


async def test_put_get_overwrite(kv: KeyValue) -> None:
    assert await kv.get("genome.best") is None
    first = await kv.put("genome.best", b"\x00raw bytes\xff")
    assert await kv.get("genome.best") == b"\x00raw bytes\xff"
    second = await kv.put("genome.best", b"better")
    assert second > first
    assert await kv.get("genome.best") == b"better"


async def test_delete_and_keys(kv: KeyValue) -> None:
    assert await kv.keys() == []
    for key in ("run/2", "run/1", "other"):
        await kv.put(key, key.encode())
    assert await kv.keys() == ["other", "run/1", "run/2"]
    assert await kv.keys("run/") == ["run/1", "run/2"]
    await kv.delete("run/1")
    await kv.delete("never-there")
    assert await kv.get("run/1") is None
    assert await kv.keys() == ["other", "run/2"]
    await kv.put("run/1", b"back")
    assert await kv.get("run/1") == b"back"


async def test_empty_value(kv: KeyValue) -> None:
    await kv.put("empty", b"")
    assert await kv.get("empty") == b""
    assert await kv.keys() == ["empty"]


@pytest.mark.parametrize("key", ["", ".hidden", "trailing.", "with space", "wild*", "a>b"])
async def test_invalid_keys_are_refused_everywhere(kv: KeyValue, key: str) -> None:
    with pytest.raises(UsageError, match="invalid"):
        await kv.put(key, b"x")


async def test_keys_lists_what_was_just_written_every_time(kv: KeyValue) -> None:
    # nats-py's own listing could end before entries already in flight were read (about 1 in 70
    # listings on a busy machine returned no key at all): a hundred rounds catch that
    for round_ in range(100):
        await kv.put(f"round/{round_}", b"x")
        assert len(await kv.keys("round/")) == round_ + 1
