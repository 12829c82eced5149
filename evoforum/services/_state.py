"""The state folder of the embedded services: where it is, what it holds, and its lock.

Layout (every path below is relative to the state folder)::

    ports.json          the port chosen for each service, kept so URLs stay stable across restarts
    lock                held (flock) while services are being started or stopped
    run/<name>.json     the running process of one service: pid, start time, argv, owner
    logs/<name>.log     the output of the last start of one service
    nats/               JetStream store
    postgres/data/      the PostgreSQL cluster

``down`` keeps everything; ``destroy`` removes exactly these entries and then the folder if it is
empty, so a state folder pointed at a folder holding other files never loses them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from evoforum._files import write_atomic
from evoforum.errors import ServiceError

STATE_ENV = "EVOFORUM_STATE_DIR"
DEFAULT_STATE_DIR = ".evoforum"
OWNED_ENTRIES = ("ports.json", "lock", "run", "logs", "nats", "postgres")


def resolve_state_dir(state_dir: str | os.PathLike[str] | None = None) -> Path:
    """The argument, else ``$EVOFORUM_STATE_DIR``, else ``./.evoforum``; absolute."""
    chosen = state_dir if state_dir is not None else os.environ.get(STATE_ENV) or DEFAULT_STATE_DIR
    return Path(chosen).expanduser().absolute()


class StateDir:
    """Paths, records and the lock of one state folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def record_path(self, name: str) -> Path:
        return self.root / "run" / f"{name}.json"

    def ensure(self) -> None:
        for folder in (self.root, self.root / "run", self.root / "logs"):
            folder.mkdir(parents=True, exist_ok=True)

    # -- records of running processes -------------------------------------------------------------

    def read_record(self, name: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self.record_path(name).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write_record(self, name: str, record: dict[str, Any]) -> None:
        write_atomic(self.record_path(name), json.dumps(record, indent=1).encode(), durable=False)

    def drop_record(self, name: str) -> None:
        self.record_path(name).unlink(missing_ok=True)

    # -- ports --------------------------------------------------------------------------------------

    def port_for(self, name: str) -> int:
        """The recorded port of ``name``; a new free one when none is recorded or it is taken."""
        path = self.root / "ports.json"
        try:
            ports = json.loads(path.read_text())
        except (OSError, ValueError):
            ports = {}
        port = ports.get(name)
        if isinstance(port, int) and port_is_free(port):
            return port
        port = free_port()
        ports[name] = port
        write_atomic(path, json.dumps(ports, indent=1, sort_keys=True).encode(), durable=False)
        return port

    def recorded_port(self, name: str) -> int | None:
        try:
            port = json.loads((self.root / "ports.json").read_text()).get(name)
        except (OSError, ValueError, AttributeError):
            return None
        return port if isinstance(port, int) else None

    # -- lock ---------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def locked(self, wait_s: float = 120.0) -> AsyncIterator[None]:
        """Hold the folder's lock (other processes wait; so do other holders in this process)."""
        self.ensure()
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if loop.time() > deadline:
                        raise ServiceError(
                            f"the state folder {self.root} stayed locked for {wait_s:.0f} s "
                            "(another 'services up' or 'down' is running)",
                            state_dir=str(self.root),
                        ) from None
                    await asyncio.sleep(0.05)
            yield
        finally:
            os.close(fd)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
