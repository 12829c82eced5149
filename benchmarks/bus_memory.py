"""Bus and memory figures: NATS request/reply round trip, pgvector HNSW queries on 10k vectors.

Starts its own NATS and PostgreSQL (``evoforum.services.local_services``) in a temporary folder
(or uses ``EVOFORUM_NATS_URL`` / ``EVOFORUM_POSTGRES_URL``) and prints one JSON object.

    python benchmarks/bus_memory.py [--requests 2000] [--vectors 10000] [--dim 384] [--queries 300]

Targets: round trip <= 1 ms (median), 10k-vector k=10 query <= 5 ms (median).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from pydantic import BaseModel

from evoforum.bus import Envelope, MemoryBus, NatsBus, Subject
from evoforum.memory import Database, PgVectorStore
from evoforum.services import local_services


class Ping(BaseModel):
    n: int
    text: str


class Pong(BaseModel):
    n: int


def summary(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {
        "median_ms": round(statistics.median(ms), 4),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 4),
        "mean_ms": round(statistics.fmean(ms), 4),
    }


async def timed(calls: int, call: Callable[[int], Awaitable[Any]]) -> list[float]:
    samples = []
    for i in range(calls):
        start = time.perf_counter()
        await call(i)
        samples.append(time.perf_counter() - start)
    return samples


async def round_trips(bus: Any, requests: int) -> dict[str, float]:
    subject = Subject(f"bench.ping.{uuid.uuid4().hex[:8]}", Ping, reply=Pong)

    async def pong(envelope: Envelope[Ping]) -> Pong:
        return Pong(n=envelope.data.n)

    await bus.subscribe(subject, pong)

    async def ping(i: int) -> None:
        reply = await bus.request(subject, Ping(n=i, text="hello"), timeout=5.0)
        assert reply.data.n == i

    await timed(200, ping)  # warm up
    return summary(await timed(requests, ping))


async def durable_publishes(bus: NatsBus, count: int) -> dict[str, float]:
    subject = Subject(f"bench.jobs.{uuid.uuid4().hex[:8]}", Ping, durable=True)
    await bus.publish(subject, Ping(n=-1, text="create the stream"))
    return summary(await timed(count, lambda i: bus.publish(subject, Ping(n=i, text="job"))))


async def vectors(url: str, count: int, dim: int, queries: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(count, dim)).astype(np.float32)
    async with await Database.connect(url, max_size=2) as db:
        store = await PgVectorStore.open(db, f"bench_{uuid.uuid4().hex[:8]}", dim, index="none")
        try:
            start = time.perf_counter()
            for first in range(0, count, 1000):
                block = data[first : first + 1000]
                await store.upsert([f"v{first + i}" for i in range(len(block))], block, None)
            insert_s = time.perf_counter() - start
            start = time.perf_counter()
            await store.create_index("hnsw")
            index_s = time.perf_counter() - start
            await db.execute(f"ANALYZE {store.table}")
            probes = rng.normal(size=(queries, dim)).astype(np.float32)
            wider = PgVectorStore(db, store.table, dim, ef_search=100)
            results: dict[int, list[list[str]]] = {40: [], 100: []}

            async def query(i: int) -> None:
                results[40].append([hit.id for hit in await store.query(probes[i], k=10)])

            async def query_wider(i: int) -> None:
                results[100].append([hit.id for hit in await wider.query(probes[i], k=10)])

            await timed(20, query)  # warm up
            results[40].clear()
            samples = await timed(queries, query)
            samples_wider = await timed(queries, query_wider)
            plan = await db.fetch_records(
                f"EXPLAIN SELECT id FROM {store.table} ORDER BY embedding <=> $1::vector LIMIT 10",
                "[" + ",".join(["0.5"] * dim) + "]",
            )
        finally:
            await store.drop()
    normed = data / np.linalg.norm(data, axis=1, keepdims=True)
    exact = [{f"v{i}" for i in np.argsort(-(normed @ probe))[:10]} for probe in probes]

    def recall(found: list[list[str]]) -> float:
        return round(float(np.mean([len(e & set(f)) / 10 for e, f in zip(exact, found, strict=True)])), 3)

    return {
        **summary(samples),
        "vectors": count,
        "dim": dim,
        "k": 10,
        "queries": queries,
        "ef_search": 40,
        "recall_at_10": recall(results[40]),
        "ef_search_100": {**summary(samples_wider), "recall_at_10": recall(results[100])},
        "uses_hnsw_index": any("Index Scan" in str(row[0]) for row in plan),
        "insert_s": round(insert_s, 2),
        "index_build_s": round(index_s, 2),
        "data": "random normal vectors (the hardest case for recall)",
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="evoforum-bench-") as state:
        async with local_services(state_dir=state, only=["nats", "postgres"]) as urls:
            assert urls.nats is not None
            assert urls.postgres is not None
            async with await NatsBus.connect(urls.nats) as nats_bus:
                nats_rt = await round_trips(nats_bus, args.requests)
                durable = await durable_publishes(nats_bus, args.requests // 4)
            async with MemoryBus() as memory_bus:
                memory_rt = await round_trips(memory_bus, args.requests)
            pg = await vectors(urls.postgres, args.vectors, args.dim, args.queries)
    return {
        "benchmark": "bus_memory",
        "nats_request_reply": {**nats_rt, "requests": args.requests, "target_ms": 1.0},
        "memory_request_reply": {**memory_rt, "requests": args.requests},
        "nats_durable_publish": {**durable, "messages": args.requests // 4},
        "pgvector_hnsw_query": {**pg, "target_ms": 5.0},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--vectors", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=300)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
