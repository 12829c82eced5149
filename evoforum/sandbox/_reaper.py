"""The sandbox's reaper and process plumbing: call users, finding and killing leftovers, bounded reading.

No control groups are needed. Every call runs in its own session and process group and, when the
parent is root, as its own user id taken from a pool (a lock file per id, held for the whole call,
makes ids unique across every process on the machine). A process left behind is found by scanning
``/proc`` for that user id (real uid, read from ``status`` because a process that changed its user
is owned by root in ``/proc``) or for the call's session and process group, and is killed with
SIGKILL until none is left. Zombies are ignored: they can no longer run.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import os
import signal
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

FIRST_UID = 1_900_000_000
"""Call user ids are taken from ``FIRST_UID`` on: far above any account a system creates."""
UID_COUNT = 4096
_turn = itertools.count(os.getpid() * 7)
"""Ids are handed out in turn, so one is used again only after the pool went round: by then
the init process has reaped the zombies of its killed processes (they would count against
RLIMIT_NPROC of the id)."""


def _lock_folder() -> Path:
    folder = Path(tempfile.gettempdir()) / f"evoforum-sandbox-users-{os.geteuid()}"
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        info = folder.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
            raise PermissionError(f"{folder} is not a private folder of this user") from None
    return folder


@contextlib.contextmanager
def call_user() -> Iterator[int]:
    """Hold a user id no other sandboxed call on this machine uses until the block ends."""
    folder = _lock_folder()
    start = next(_turn) % UID_COUNT
    for step in range(UID_COUNT):
        uid = FIRST_UID + (start + step) % UID_COUNT
        fd = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield uid
        finally:
            os.close(fd)
        return
    raise RuntimeError(f"all {UID_COUNT} sandbox user ids are in use")


def _real_uid(pid: str) -> int | None:
    """The real uid of a live process, or None when it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    state = data.find(b"\nState:")
    uid = data.find(b"\nUid:")
    if state < 0 or uid < 0 or data[state + 7 : state + 12].split()[0] in (b"Z", b"X"):
        return None
    return int(data[uid + 5 :].split()[0])


def _in_group(pid: str, group: int) -> bool:
    """Whether a live process has ``group`` as its process group or session."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return False
    fields = data[data.rfind(b")") + 2 :].split()
    return fields[0] not in (b"Z", b"X") and group in (int(fields[2]), int(fields[3]))


def leftovers(uid: int | None, group: int) -> list[int]:
    """Live processes of a call: those of its own user id, else those of its group or session.

    A process of an unprivileged user id cannot change it (no_new_privs, no capabilities), so
    the user id alone finds every descendant, also one that left the session.
    """
    me = str(os.getpid())
    names = [entry.name for entry in os.scandir("/proc") if entry.name.isdigit() and entry.name != me]
    if uid is not None:
        return [int(name) for name in names if _real_uid(name) == uid]
    return [int(name) for name in names if _in_group(name, group)]


def kill_all(uid: int | None, group: int, *, leader_alive: bool, rounds: int = 200) -> int:
    """SIGKILL the call's processes until none is left; the number of leftovers it found.

    The group is signalled as a whole only while it surely exists (its leader not yet reaped, or
    members just seen), so a process group number reused by the system is never hit.
    """
    if leader_alive:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    seen: set[int] = set()
    for _ in range(rounds):
        pids = leftovers(uid, group)
        if not pids:
            break
        if uid is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        for pid in pids:
            seen.add(pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.002)
    return len(seen)


class Capture(asyncio.SubprocessProtocol):
    """Keeps at most ``limit`` bytes of stdout and of stderr; drops the rest as it arrives."""

    def __init__(self, limit: int) -> None:
        loop = asyncio.get_running_loop()
        self.limit = limit
        self.kept = {1: bytearray(), 2: bytearray()}
        self.flooded = asyncio.Event()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self._open = 2

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        kept = self.kept[fd]
        room = self.limit - len(kept)
        if len(data) > room:
            self.flooded.set()
        if room > 0:
            kept += data[:room] if isinstance(data, bytes) else data[:room].encode()

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self._open -= 1
        if self._open <= 0 and not self.closed.done():
            self.closed.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


class Sink(asyncio.Protocol):
    """The result pipe: keeps at most ``limit`` bytes; ``closed`` resolves at its end."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept = bytearray()
        self.overflow = False
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        room = self.limit - len(self.kept)
        if len(data) > room:
            self.overflow = True
        if room > 0:
            self.kept += data[:room]

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
