"""LLM layer benchmarks; prints one JSON object.

- ``concurrent``: 1,000 concurrent chat calls through ``OpenAICompatible`` to the stub server
  with 100 ms latency (the stub runs in a child process so client and server each get a core).
  Target: <= 1.5 s in all.
- ``overhead``: the wrapper stack ``Retrying(Metered(Limited(Timed(...))))`` over an in-process
  client that answers at once, minus that client alone, per call. Target: <= 1 ms.
- ``local``: completion tokens/s of the local model, streamed, from
  ``evoforum.services.local_services(only=["llm"])`` (which takes ``EVOFORUM_LLM_URL`` when
  set); ``--skip-local`` leaves it out.

    python benchmarks/llm.py [--calls 1000] [--latency 0.1] [--skip-local]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections.abc import Sequence
from typing import Any

import orjson

from evoforum.llm import (
    ChatRequest,
    Completion,
    Ledger,
    Limited,
    Metered,
    OpenAICompatible,
    Retrying,
    Timed,
    TokenSink,
    Usage,
    chat_request,
)


async def concurrent(calls: int, latency: float, connections: int) -> dict[str, Any]:
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "evoforum.llm.stub", "--latency", str(latency), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert server.stdout is not None
        url = (await asyncio.wait_for(server.stdout.readline(), 60)).decode().strip()
        client = OpenAICompatible(url, "stub", max_connections=connections, timeout=60)
        # A first burst opens the pools' connections (a run makes many calls; setup is paid once).
        await asyncio.gather(*(client.complete(chat_request("stub", f"warm {i}")) for i in range(calls)))
        requests = [chat_request("stub", f"question number {i}") for i in range(calls)]
        start, cpu = time.perf_counter(), time.process_time()
        results = await asyncio.gather(*(client.complete(r) for r in requests))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        await client.aclose()
    finally:
        if server.returncode is None:
            server.terminate()
        await server.wait()
    assert all(r.text for r in results)
    return {
        "calls": calls,
        "latency_s": latency,
        "max_connections": connections,
        "pool_shards": client.pool_shards,
        "wall_s": round(wall, 3),
        "client_cpu_s": round(cpu, 3),
        "target_s": 1.5,
        "ok": wall <= 1.5,
    }


class Instant:
    """Answers at once, in process: what is left is the cost of the wrappers."""

    async def complete(self, request: ChatRequest, *, on_token: TokenSink | None = None) -> Completion:
        return Completion(text="ok", model=request.model, usage=Usage(prompt_tokens=3, completion_tokens=1))

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> list[list[float]]:
        return [[0.0] for _ in texts]

    async def aclose(self) -> None:
        pass


async def overhead(calls: int = 20_000) -> dict[str, Any]:
    bare = Instant()
    stack = Retrying(Metered(Limited(Timed(Instant(), 30.0), 64), Ledger()), rng=random.Random(0))
    requests = [chat_request("m", f"prompt {i}", max_tokens=16) for i in range(calls)]

    async def run(client: Any) -> float:
        start = time.perf_counter()
        for request in requests:
            await client.complete(request)
        return time.perf_counter() - start

    await run(stack)  # warm up (request hashes are cached per request object)
    requests = [chat_request("m", f"prompt {i}", max_tokens=16) for i in range(calls)]
    bare_s, stack_s = await run(bare), await run(stack)
    per_call_ms = (stack_s - bare_s) / calls * 1000
    return {"calls": calls, "per_call_ms": round(per_call_ms, 4), "target_ms": 1.0, "ok": per_call_ms <= 1.0}


async def local(prompts: int = 3) -> dict[str, Any]:
    from evoforum.services import local_services  # honours EVOFORUM_LLM_URL; else starts the model

    async with local_services(only=["llm"]) as urls:
        assert urls.llm is not None
        return await _throughput(urls.llm, urls.llm_model, prompts)


async def _throughput(url: str, model: str, prompts: int) -> dict[str, Any]:
    client = OpenAICompatible(url, model, timeout=300)
    tokens, wall = 0, 0.0
    for index in range(prompts):
        request = chat_request(
            model,
            f"Write a Python function that returns the {index + 2}th prime number.",
            temperature=0.0,
            max_tokens=200,
        )
        start = time.perf_counter()
        result = await client.complete(request, on_token=lambda _: None)
        wall += time.perf_counter() - start
        tokens += result.usage.completion_tokens
    await client.aclose()
    return {
        "model": model,
        "completion_tokens": tokens,
        "wall_s": round(wall, 2),
        "tokens_per_s": round(tokens / wall, 1),
    }


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument("--skip-local", action="store_true")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {
        "load_average_1m": os.getloadavg()[0],
        "concurrent": await concurrent(args.calls, args.latency, args.connections),
        "overhead": await overhead(),
    }
    report["local"] = {"measured": False} if args.skip_local else await local()
    return report


if __name__ == "__main__":
    print(orjson.dumps(asyncio.run(main())).decode())
