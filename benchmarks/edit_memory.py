"""Edit-memory figures on pgvector (exact scan; a connection per use, or pooled) and in the process.

Uses ``EVOFORUM_POSTGRES_URL`` or starts its own PostgreSQL (``evoforum.services.local_services``)
in a temporary folder, embeds with a seeded hash embedder (so only the store is measured), and
prints one JSON object: the rebuild of a table from a checkpoint of ``--edits`` edits, one
``record``, one ``examples`` query, and the resume of a table holding ``--late`` edits recorded
after the checkpoint.

    python benchmarks/edit_memory.py [--edits 2000] [--dim 896] [--queries 50] [--late 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np

from evoforum.evolve.operators import Edit, EditMemory
from evoforum.hashing import digest
from evoforum.memory import Database, MemoryVectorStore, PgVectorStore, SemanticMemory
from evoforum.run.plan import EditStore, open_edit_memory
from evoforum.services import local_services


class HashEmbedder:
    """A unit vector per text, seeded by the text's hash."""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            rng = np.random.default_rng(int(digest(text, domain="bench-embed")[:16], 16))
            vector = rng.standard_normal(self.dim)
            vectors.append((vector / np.linalg.norm(vector)).tolist())
        return vectors


def edits(count: int, start: int = 0) -> list[Edit]:
    return [
        Edit(operator="llm_rewrite", kind="function", before=f"def f{i}(x): return x + {i}",
             after=f"def f{i}(x): return x * {i}", delta=((i * 37) % 11 - 5) / 10)
        for i in range(start, start + count)
    ]  # fmt: skip


async def timed(calls: int, call: Callable[[int], Awaitable[Any]]) -> dict[str, float]:
    samples = []
    for i in range(calls):
        begin = time.perf_counter()
        await call(i)
        samples.append((time.perf_counter() - begin) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[int(0.95 * (calls - 1))], 3),
    }


async def measure(memory: Callable[[], Awaitable[EditMemory]], args: argparse.Namespace) -> dict[str, Any]:
    kept = edits(args.edits)
    checkpoint = {"edits": [edit.model_dump(mode="json") for edit in kept]}
    first = await memory()
    first.restore(checkpoint)
    begin = time.perf_counter()
    await first.examples("warm up", k=2)  # rebuilds the store from the checkpoint
    rebuild_s = time.perf_counter() - begin
    late = edits(args.late, start=args.edits)
    record = await timed(args.late, lambda i: first.record(late[i]))
    examples = await timed(args.queries, lambda i: first.examples(f"def f{i * 7}(x): return x", k=2))
    resumed = await memory()  # a new process on the same table, after a kill
    resumed.restore(checkpoint)
    begin = time.perf_counter()
    await resumed.examples("warm up", k=2)
    resume_s = time.perf_counter() - begin
    assert len(resumed.edits) == args.edits
    return {
        "rebuild_s": round(rebuild_s, 3),
        "record": record,
        "examples": examples,
        "resume_after_kill_s": round(resume_s, 3),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    embedder = HashEmbedder(args.dim)
    result: dict[str, Any] = {"edits": args.edits, "dim": args.dim, "late": args.late}
    result["memory"] = await measure(lambda: _in_process(embedder, args.dim), args)  # a new process: empty
    url = os.environ.get("EVOFORUM_POSTGRES_URL")
    with tempfile.TemporaryDirectory() as state:
        if url is None:
            async with local_services(state_dir=state, only=["postgres"]) as urls:
                assert urls.postgres is not None
                result["pgvector"] = await _pgvector(embedder, urls.postgres, args)
        else:
            result["pgvector"] = await _pgvector(embedder, url, args)
    return result


async def _in_process(embedder: HashEmbedder, dim: int) -> EditMemory:
    return EditMemory(SemanticMemory(embedder, MemoryVectorStore(dim)))


async def _pgvector(embedder: HashEmbedder, url: str, args: argparse.Namespace) -> dict[str, Any]:
    found = {}
    async with await Database.connect(url, max_size=2) as db:
        for name, pool in (("connection_per_use", None), ("pooled", db)):
            where = EditStore(url, f"edit_memory_bench_{uuid.uuid4().hex[:10]}", pool)
            try:
                found[name] = await measure(lambda: open_edit_memory(embedder, where), args)  # noqa: B023
            finally:
                await PgVectorStore(db, where.table, 1).drop()
    return found


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--edits", type=int, default=2000)
    parser.add_argument("--dim", type=int, default=896)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--late", type=int, default=50)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
