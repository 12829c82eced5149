"""What the manager needs to know about one kind of embedded service."""

from __future__ import annotations

import signal
import subprocess
from typing import ClassVar

from evoforum.services._process import spawn
from evoforum.services._state import StateDir


class Service:
    """One embedded server: how to prepare, start, probe and stop it.

    Subclasses set the class attributes and implement ``argv``, ``url`` and ``check``; the
    hooks ``prepare``, ``after_start`` and ``clean_stale`` do nothing unless overridden.
    """

    name: ClassVar[str]
    env_var: ClassVar[str]
    """The environment variable that names an external server to use instead."""
    stop_signal: ClassVar[int] = signal.SIGTERM
    start_timeout: ClassVar[float] = 30.0

    def argv(self, state: StateDir, port: int) -> list[str]:
        raise NotImplementedError

    def url(self, port: int) -> str:
        raise NotImplementedError

    async def check(self, url: str, within: float = 3.0) -> None:
        """Raise ``ServiceUnavailable`` unless the server at ``url`` answers."""
        raise NotImplementedError

    async def probe(self, port: int, within: float) -> None:
        """Readiness of a server this folder started (defaults to ``check`` of its URL)."""
        await self.check(self.url(port), within)

    async def ready(self, state: StateDir, port: int, within: float) -> None:
        """Readiness of a server started here (``probe``, unless the service knows better)."""
        await self.probe(port, within)

    async def prepare(self, state: StateDir) -> None:
        """Work before the first start (create a cluster, assemble a model)."""

    async def after_start(self, state: StateDir, port: int) -> None:
        """Work once the server answers (create a database)."""

    def clean_stale(self, state: StateDir) -> None:
        """Remove what a killed server left behind; the folder's lock is held."""

    def launch(self, state: StateDir, port: int, owned: bool) -> subprocess.Popen[bytes]:
        return spawn(self.argv(state, port), state.log(self.name), owned=owned, death_signal=self.stop_signal)
