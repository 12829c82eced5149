"""Server processes: start them (detached or tied to their owner), recognise them, stop them.

A process is recognised by its pid together with its start time (``/proc/<pid>/stat``) and the
program in its command line, so a pid the kernel has since given to another process is never
taken for ours, nor killed. A zombie counts as gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1


def _proc(pid: int, entry: str) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/{entry}").read_bytes()
    except OSError:
        return None


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), or None when it is gone or a zombie."""
    stat = _proc(pid, "stat")
    if stat is None:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def cmdline(pid: int) -> list[str]:
    raw = _proc(pid, "cmdline") or b""
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_ours(record: dict[str, Any]) -> bool:
    """Whether the process a run record names is still that very process."""
    pid, ticks, argv = record.get("pid"), record.get("start"), record.get("argv")
    if not isinstance(pid, int) or not isinstance(argv, list) or not argv:
        return False
    if start_ticks(pid) != ticks:
        return False
    current = cmdline(pid)
    return bool(current) and Path(current[0]).name == Path(str(argv[0])).name


def owner_is_gone(record: dict[str, Any]) -> bool:
    """Whether the record names an owning process that no longer runs (its server is an orphan)."""
    owner = record.get("owner")
    return isinstance(owner, int) and start_ticks(owner) != record.get("owner_start")


def child_setup(
    before: Callable[[], None] | None = None, death_signal: int | None = None
) -> Callable[[], None] | None:
    """What a child does between fork and exec: ``before`` (e.g. switch user), then ask for
    ``death_signal`` when the thread that started it dies (Linux only)."""
    tie = death_signal is not None and sys.platform == "linux"
    if before is None and not tie:
        return None

    def preexec() -> None:
        if before is not None:
            before()
        if tie and death_signal is not None:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
            if os.getppid() == 1:  # the owner died before the signal was armed
                os.kill(os.getpid(), death_signal)

    return preexec


def spawn(
    argv: Sequence[str],
    log: Path,
    *,
    owned: bool,
    death_signal: int = signal.SIGTERM,
    before: Callable[[], None] | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start a server in its own session with its output in ``log``.

    ``owned``: the server receives ``death_signal`` when the thread that started it dies (Linux),
    so a killed owner leaves nothing running. Otherwise it outlives the caller.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=child_setup(before, death_signal if owned else None),
            cwd=cwd,
            env=env,
        )


def record_of(process: subprocess.Popen[bytes], port: int, owned: bool) -> dict[str, Any]:
    """The run record of a freshly started server."""
    args = process.args
    argv = [str(arg) for arg in args] if isinstance(args, list) else [str(args)]
    return {
        "pid": process.pid,
        "start": start_ticks(process.pid),
        "argv": argv,
        "port": port,
        "owner": os.getpid() if owned else None,
        "owner_start": start_ticks(os.getpid()) if owned else None,
    }


def stop(
    record: dict[str, Any],
    stop_signal: int,
    *,
    process: subprocess.Popen[bytes] | None = None,
    grace: float = 10.0,
) -> None:
    """Stop the process ``record`` names (only if it is still that process); wait until it is gone."""
    pid = record["pid"]
    if not is_ours(record):
        _reap(process)
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, stop_signal)
    if not _wait_gone(record, process, grace):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone(record, process, 5.0)
    _reap(process)


def _wait_gone(record: dict[str, Any], process: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return True
        if start_ticks(record["pid"]) != record["start"]:
            return True
        time.sleep(0.02)
    return False


def _reap(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=1.0)


def log_tail(path: Path, lines: int = 25) -> str:
    """The last ``lines`` lines of a log file (empty when there is none)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 16_384))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
