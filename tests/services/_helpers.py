"""Helpers of the service tests: run the command line, read run records, see whether a pid lives."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def cli(state: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m evoforum services ARGS --state-dir STATE``."""
    command = [sys.executable, "-m", "evoforum", "services", *args, "--state-dir", str(state)]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, env=env, check=False)


def record(state: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((state / "run" / f"{name}.json").read_text())
    return data


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie is dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def wait_dead(pids: list[int], limit: float = 30.0) -> list[int]:
    """Wait until none of ``pids`` lives (or ``limit`` passes); the ones still alive."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


def children_of(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (PostgreSQL's backends and workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
                found.append(int(entry.name))
    return found
