"""The launcher of one sandboxed call: prepare its folder, start the child, watch it, classify how it ended."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evoforum.hashing import canonical_json
from evoforum.sandbox._reaper import Capture, Sink, call_user, kill_all

CANDIDATE_FILE = "candidate.py"
"""The file the child runs the source from (``_child`` names it too: it imports only the stdlib)."""

CHILD = Path(__file__).with_name("_child.py")
ISOLATED = ("-S", "-s", "-P", "-B")
"""The child's interpreter flags: no site, no user site, no script folder on the path, no bytecode."""
_STATUS = {"ok": "ok", "memory": "memory", "exit": "exit", "exception": "exception"}
_DRAIN_S = 1.0


@dataclass(frozen=True)
class Call:
    """Everything one call needs, already checked by ``Sandbox.run``."""

    source: str | None
    entry: str | None
    args: list[Any]
    kwargs: dict[str, Any]
    files: dict[str, str]
    limits: dict[str, Any]
    python: str
    env: dict[str, str]
    drop_user: bool
    extra_path: list[str]
    folder: str | None


@contextlib.contextmanager
def _user(drop: bool) -> Iterator[int | None]:
    if not drop:
        yield None
        return
    with call_user() as uid:
        yield uid


@functools.cache
def _needed(python: str, extra_path: tuple[str, ...]) -> list[str]:
    """Folders the child must still read after it dropped root."""
    paths = {os.path.realpath(sysconfig.get_paths()[key]) for key in ("stdlib", "platstdlib")}
    paths.add(os.path.dirname(os.path.realpath(python)))
    paths.update(extra_path)
    return sorted(path for path in paths if os.path.isdir(path))


def _prepare(call: Call, uid: int | None, home: Path, result_fd: int) -> Path:
    """Fill ``home``: ``work`` (the child's cwd, its own) and ``mnt`` (for bind mounts)."""
    work = home / "work"
    work.mkdir(mode=0o700)
    (home / "mnt").mkdir(mode=0o700)
    limits = call.limits
    spec = {
        "entry": call.entry if call.entry is None or ":" in call.entry else f"candidate:{call.entry}",
        "args": call.args,
        "kwargs": call.kwargs,
        "extra_path": call.extra_path,
        "uid": uid,
        "network": limits["network"],
        "needed": _needed(call.python, tuple(call.extra_path)),
        "stash": str(home / "mnt"),
        "result_fd": result_fd,
        "limits": {
            "cpu_s": limits["cpu_s"],
            "memory_bytes": limits["memory_mb"] << 20,
            "file_bytes": limits["file_mb"] << 20,
            "disk_bytes": limits["disk_mb"] << 20,
            "nproc": limits["nproc"],
        },
    }
    (work / "_call.json").write_bytes(canonical_json(spec))
    if call.source is not None:
        (work / CANDIDATE_FILE).write_text(call.source, encoding="utf-8")
    for name, text in call.files.items():
        target = work / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    if uid is not None:
        home.chmod(0o711)
        for folder, _, names in os.walk(work):
            os.chown(folder, uid, uid)
            for name in names:
                os.chown(os.path.join(folder, name), uid, uid)
    return work


def _environment(call: Call, work: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(work),
        "TMPDIR": str(work),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        **call.env,
    }


def _parse(line: bytes) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return {"status": "error", "error": "the child sent something that is not JSON"}
    return record if isinstance(record, dict) else {"status": "error", "error": "malformed result"}


def _received(sink: Sink) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(isolation facts, outcome record) from the result pipe's two lines."""
    lines = bytes(sink.kept).split(b"\n", 2)
    facts = _parse(lines[0]) if len(lines) > 1 else None
    if sink.overflow:
        return facts, {"status": "error", "error": f"the result is larger than {sink.limit} bytes"}
    record = _parse(lines[1]) if len(lines) > 2 else None
    return facts, record


def _classify(forced: str | None, record: dict[str, Any] | None, returncode: int) -> dict[str, Any]:
    if forced is not None:
        return {"reason": forced}
    if record is not None:
        reason = _STATUS.get(record.get("status", ""), "error")
        out = {"reason": reason, "error": record.get("error"), "traceback": record.get("traceback")}
        if reason == "ok":
            out["value"] = record.get("value")
        return out
    if returncode < 0:
        number = -returncode
        reason = {int(signal.SIGXCPU): "cpu", int(signal.SIGKILL): "killed"}.get(number, "crashed")
        return {"reason": reason, "error": f"killed by {signal.strsignal(number) or number}"}
    return {"reason": "exit", "error": f"exited with status {returncode} without a result"}


async def execute(call: Call) -> dict[str, Any]:
    """Run one call to its end; the fields of a ``SandboxResult``."""
    with _user(call.drop_user) as uid:
        home = Path(tempfile.mkdtemp(prefix="evoforum-sandbox-", dir=call.folder))
        pipe = os.pipe()
        still_open = set(pipe)
        try:
            work = _prepare(call, uid, home, pipe[1])
            return await _watch(call, uid, work, pipe, still_open)
        finally:
            for fd in still_open:
                os.close(fd)
            shutil.rmtree(home, ignore_errors=True)


async def _watch(
    call: Call, uid: int | None, work: Path, pipe: tuple[int, int], still_open: set[int]
) -> dict[str, Any]:
    """Start the child, wait for its end (or the wall clock, or a flood), kill what is left."""
    read_end, write_end = pipe
    limit = call.limits["max_output_bytes"]
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    transport, capture = await loop.subprocess_exec(
        lambda: Capture(limit),
        call.python,
        *ISOLATED,
        str(CHILD),
        cwd=work,
        env=_environment(call, work),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        pass_fds=(write_end,),
    )
    os.close(write_end)
    still_open.discard(write_end)
    reader = os.fdopen(read_end, "rb", 0)
    still_open.discard(read_end)
    result_pipe, sink = await loop.connect_read_pipe(lambda: Sink(limit), reader)
    pid = transport.get_pid()
    flooded: asyncio.Future[Any] = asyncio.ensure_future(capture.flooded.wait())
    waiters: set[asyncio.Future[Any]] = {capture.exited, flooded}
    forced: str | None = None
    try:
        done, _ = await asyncio.wait(
            waiters, timeout=call.limits["wall_s"], return_when=asyncio.FIRST_COMPLETED
        )
        if capture.exited not in done:
            forced = "output_limit" if capture.flooded.is_set() else "timeout"
    finally:
        flooded.cancel()
        alive = not capture.exited.done()
        leftovers = await asyncio.to_thread(functools.partial(kill_all, uid, pid, leader_alive=alive))
        with contextlib.suppress(TimeoutError):
            ends = asyncio.gather(capture.exited, capture.closed, sink.closed)
            await asyncio.wait_for(asyncio.shield(ends), _DRAIN_S)
        transport.close()
        result_pipe.close()
    duration = time.perf_counter() - started
    returncode = transport.get_returncode()
    returncode = -signal.SIGKILL if returncode is None else returncode
    if capture.flooded.is_set():
        forced = "output_limit"
    isolation, record = _received(sink)
    fields = _classify(forced, record, returncode)
    if fields["reason"] == "timeout":
        fields["error"] = f"ran past {call.limits['wall_s']} s of wall-clock time"
    elif fields["reason"] == "output_limit":
        fields["error"] = f"wrote more than {limit} bytes to stdout or stderr"
    return {
        **fields,
        "ok": fields["reason"] == "ok",
        "returncode": returncode,
        "signal": -returncode if returncode < 0 else None,
        "stdout": capture.kept[1].decode("utf-8", "replace"),
        "stderr": capture.kept[2].decode("utf-8", "replace"),
        "truncated": capture.flooded.is_set(),
        "duration_s": duration,
        "pid": pid,
        "leftovers": max(leftovers, 0),
        "isolation": isolation if isolation and "status" not in isolation else None,
    }
