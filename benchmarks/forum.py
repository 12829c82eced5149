"""Forum benchmarks; prints one JSON object.

- ``messages_per_s``: text messages created and hashed in memory (each the child of the last);
- ``raw_json_sha256_per_s`` / ``raw_orjson_sha256_per_s``: sha256 over the same payload dicts
  serialised with json / orjson (sorted keys), in the same run, and our ratio to each;
- ``postgres_batch_messages_per_s``: messages posted to PostgreSQL in batches (embedded server
  from ``evoforum.services.local_services``, or ``EVOFORUM_POSTGRES_URL``);
- ``stream_us_per_token_per_consumer``: wall time per token per reader with 5 nested agents and 10
  readers, (a) when the innermost agent suspends after every token (each token travels alone,
  the worst case) and (b) when it yields a burst.

Usage: ``python benchmarks/forum.py [--quick]``
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson

from evoforum.forum import Agent, Message, MessagePromise, PostgresStore, agent

QUICK = "--quick" in sys.argv


def best_interleaved(rounds: int, **functions: Any) -> dict[str, float]:
    """The best time of each function over ``rounds`` rounds that take turns (fair under load)."""
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(rounds):
        for name, function in functions.items():
            best[name] = min(best[name], function())
    return best


def time_messages(count: int) -> float:
    start = time.perf_counter()
    parent = None
    for i in range(count):
        parent = Message(f"message number {i}", "bench", parent).hash
    return time.perf_counter() - start


def time_raw(count: int, use_orjson: bool) -> float:
    prefix = b"evoforum:v1:message\0"
    start = time.perf_counter()
    parent = ""
    for i in range(count):
        payload = {"kind": "text", "sender": "bench", "content": f"message number {i}", "metadata": {}}
        if parent:
            payload["parent"] = parent
        if use_orjson:
            data = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
        else:
            data = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        parent = hashlib.sha256(prefix + data).hexdigest()
    return time.perf_counter() - start


async def postgres_rate(count: int, batch: int) -> dict[str, Any]:
    import os

    url = os.environ.get("EVOFORUM_POSTGRES_URL")
    if url:
        return await _post_batches(url, count, batch)
    try:
        from evoforum.services import local_services
    except ImportError:
        return {"postgres_note": "evoforum.services.local_services is not available"}
    from evoforum.errors import EvoforumError

    try:
        with tempfile.TemporaryDirectory() as state:
            async with local_services(state, only=["postgres"]) as urls:
                assert urls.postgres is not None
                return await _post_batches(urls.postgres, count, batch)
    except EvoforumError as error:
        return {"postgres_note": f"no PostgreSQL figure: {type(error).__name__}: {error}"[:300]}


async def _post_batches(url: str, count: int, batch: int) -> dict[str, Any]:
    store = await PostgresStore.connect(url, schema=f"bench_{uuid.uuid4().hex[:8]}")
    try:
        messages: list[Message] = []
        parent = None
        for i in range(count):
            message = Message(f"stored message {i}", "bench", parent if i % 100 else None)
            messages.append(message)
            parent = message.hash
        start = time.perf_counter()
        for offset in range(0, count, batch):
            await store.put_many(messages[offset : offset + batch])
        elapsed = time.perf_counter() - start
        return {"postgres_batch_messages_per_s": round(count / elapsed), "postgres_batch_size": batch}
    finally:
        await store.drop()
        await store.close()


def nested(depth: int, tokens: int, suspend: bool) -> Agent:
    @agent(cache=False)
    async def source(branch: list[Message]) -> AsyncIterator[str]:
        for _ in range(tokens):
            yield "tok "
            if suspend:
                await asyncio.sleep(0)

    current = source
    for level in range(depth):

        def wrap(inner: Agent, level: int) -> Agent:
            @agent(cache=False, name=f"level{level}")
            async def relay(branch: list[Message]) -> AsyncIterator[MessagePromise]:
                yield inner(branch)

            return relay

        current = wrap(current, level)
    return current


async def stream_overhead(tokens: int, readers: int, suspend: bool) -> float:
    top = nested(5, tokens, suspend)

    async def read(promise: MessagePromise) -> int:
        count = 0
        async for _ in promise:
            count += 1
        return count

    start = time.perf_counter()
    promise = top("go")
    counts = await asyncio.gather(*(read(promise) for _ in range(readers)))
    await promise
    elapsed = time.perf_counter() - start
    assert counts == [tokens] * readers
    return elapsed / (tokens * readers) * 1e6


def main() -> None:
    count = 20_000 if QUICK else 50_000
    best = best_interleaved(
        3 if QUICK else 7,
        ours=lambda: time_messages(count),
        raw_json=lambda: time_raw(count, use_orjson=False),
        raw_orjson=lambda: time_raw(count, use_orjson=True),
    )
    result: dict[str, Any] = {
        "messages_per_s": round(count / best["ours"]),
        "raw_json_sha256_per_s": round(count / best["raw_json"]),
        "raw_orjson_sha256_per_s": round(count / best["raw_orjson"]),
        "ratio_to_raw_json": round(best["raw_json"] / best["ours"], 2),
        "ratio_to_raw_orjson": round(best["raw_orjson"] / best["ours"], 2),
    }
    result.update(asyncio.run(postgres_rate(20_000 if QUICK else 100_000, 5_000)))
    tokens = 2_000 if QUICK else 10_000
    result["stream_us_per_token_per_consumer"] = {
        "suspend_each_token": round(asyncio.run(stream_overhead(tokens, 10, suspend=True)), 2),
        "burst": round(asyncio.run(stream_overhead(tokens, 10, suspend=False)), 2),
        "nesting": 5,
        "consumers": 10,
        "tokens": tokens,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
