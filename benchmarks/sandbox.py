"""Per-call overhead of the sandbox for a trivial function, sequential and 8 at a time.

    python benchmarks/sandbox.py [--calls 40]

Prints one JSON object: milliseconds per call for the full isolation this machine allows (default
settings; and with the parent's working folders in the system's temporary folder instead of
/dev/shm), for the rlimits-only configuration (no own user, network allowed, folders on disk), and
for a bare interpreter start as the floor; plus what isolation was applied and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from evoforum.sandbox import Sandbox, SandboxLimits

TRIVIAL = "def main(x):\n    return x + 1\n"


async def _sequential(sandbox: Sandbox, calls: int) -> list[float]:
    times = []
    for i in range(calls):
        started = time.perf_counter()
        result = await sandbox.call(TRIVIAL, args=[i])
        times.append(time.perf_counter() - started)
        assert result.value == i + 1, result
    return times


async def _concurrent(sandbox: Sandbox, calls: int, width: int) -> float:
    gate = asyncio.Semaphore(width)

    async def one(i: int) -> None:
        async with gate:
            result = await sandbox.call(TRIVIAL, args=[i])
            assert result.value == i + 1, result

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(calls)))
    return time.perf_counter() - started


def _bare_start(calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        subprocess.run([sys.executable, "-S", "-s", "-P", "-B", "-c", "pass"], check=True)
    return (time.perf_counter() - started) / calls


async def _measure(sandbox: Sandbox, calls: int) -> dict[str, Any]:
    await _sequential(sandbox, 3)
    times = await _sequential(sandbox, calls)
    total = await _concurrent(sandbox, calls, 8)
    return {
        "sequential_ms_median": round(statistics.median(times) * 1000, 1),
        "sequential_ms_p90": round(sorted(times)[int(len(times) * 0.9)] * 1000, 1),
        "concurrent8_ms_per_call": round(total / calls * 1000, 1),
        "concurrent8_calls_per_s": round(calls / total, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=40)
    calls = parser.parse_args().calls
    full = Sandbox(SandboxLimits())
    probe = await full.run(TRIVIAL, args=[0])
    light = Sandbox(SandboxLimits(network=True), drop_user=False)
    on_disk = Sandbox(SandboxLimits(), folder=tempfile.gettempdir())
    report = {
        "calls": calls,
        "python": sys.version.split()[0],
        "isolation": probe.isolation.model_dump() if probe.isolation else None,
        "full": await _measure(full, calls),
        "full_parent_folders_on_disk": await _measure(on_disk, calls),
        "rlimits_only": await _measure(light, calls),
        "bare_interpreter_start_ms": round(_bare_start(calls) * 1000, 1),
        "load_average_1min": os.getloadavg()[0],
    }
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
