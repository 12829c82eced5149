"""Start, reuse, stop and inspect the services of one state folder.

Every change happens under the folder's lock. A service is reused when its run record names a
live process (pid, start time and program all match) that answers; a record of a dead process is
cleaned up and the service started again. ``owned`` servers are tied to this process (they get a
signal when it dies) and ``stop_started`` stops exactly the ones this manager started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from evoforum.errors import ServiceStartFailed, ServiceUnavailable, UsageError, did_you_mean
from evoforum.services._process import is_ours, log_tail, owner_is_gone, record_of, stop
from evoforum.services._service import Service
from evoforum.services._state import OWNED_ENTRIES, StateDir, port_is_free
from evoforum.services.llm import LLMService
from evoforum.services.nats import NatsService
from evoforum.services.postgres import PostgresService

SERVICES: dict[str, Service] = {s.name: s for s in (NatsService(), PostgresService(), LLMService())}
NAMES = tuple(SERVICES)


def select(only: Iterable[str] | None) -> list[str]:
    """The services named by ``only`` (all when empty), in start order; unknown names are a UsageError."""
    chosen = set(only or NAMES)
    for name in chosen - set(NAMES):
        raise UsageError(f"unknown service {name!r}{did_you_mean(name, NAMES)}; known: {', '.join(NAMES)}")
    return [name for name in NAMES if name in chosen]


def external_urls(overrides: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """External servers to use instead of embedded ones: arguments first, then environment."""
    found = {}
    for name, service in SERVICES.items():
        url = (overrides or {}).get(name) or os.environ.get(service.env_var)
        if url:
            found[name] = url
    return found


@dataclass(frozen=True)
class Status:
    """One line of ``services status``."""

    name: str
    state: str  # running | external | stopped | unhealthy
    url: str | None
    detail: str = ""


class Manager:
    """The services of one state folder; ``services`` replaces the embedded ones by name (tests)."""

    def __init__(
        self,
        state: StateDir,
        *,
        owned: bool,
        external: Mapping[str, str] | None = None,
        services: Mapping[str, Service] | None = None,
    ) -> None:
        self.state = state
        self.owned = owned
        self.external = dict(external or {})
        self.services = {**SERVICES, **(services or {})}
        self._started: dict[str, tuple[dict[str, Any], subprocess.Popen[bytes]]] = {}

    @property
    def started(self) -> frozenset[str]:
        """The services this manager started (and has not stopped)."""
        return frozenset(self._started)

    async def ensure(self, names: Iterable[str]) -> dict[str, str]:
        """Each named service's URL: external, reused, or started now (concurrently)."""
        names = list(names)
        before = set(self._started)
        async with self.state.locked():
            urls = await asyncio.gather(*(self._ensure_one(name) for name in names), return_exceptions=True)
        failures = [url for url in urls if isinstance(url, BaseException)]
        if failures:
            await self.stop_started(set(self._started) - before)
            raise failures[0]
        return {name: str(url) for name, url in zip(names, urls, strict=True)}

    async def _ensure_one(self, name: str) -> str:
        service = self.services[name]
        if name in self.external:
            url = self.external[name]
            await service.check(url)
            return url
        record = self.state.read_record(name)
        if record is not None and is_ours(record) and not owner_is_gone(record):
            port = int(record["port"])
            with contextlib.suppress(ServiceUnavailable):
                await self._wait_ready(service, port, None, min(service.start_timeout, 10.0))
                return service.url(port)
        if record is not None:  # dead, hung, or outliving the process that owned it
            await asyncio.to_thread(stop, record, service.stop_signal)
        self.state.drop_record(name)
        await asyncio.to_thread(service.clean_stale, self.state)
        await service.prepare(self.state)
        for attempt in range(2):
            port = self.state.port_for(name)
            process = service.launch(self.state, port, self.owned)
            record = record_of(process, port, self.owned)
            self.state.write_record(name, record)
            self._started[name] = (record, process)
            try:
                await self._wait_ready(service, port, process, service.start_timeout)
                break
            except ServiceStartFailed:
                if process.poll() is not None and not port_is_free(port):
                    if attempt == 0:
                        continue  # someone took the port meanwhile: start again on a new one
                    self._failed(service, f"could not listen at {service.url(port)}: the port is taken")
                raise
        try:
            await service.after_start(self.state, port)
        except Exception as error:  # a vendor error (asyncpg, a refused warm-up) becomes ours
            self._failed(service, f"started but its first request failed ({type(error).__name__}: {error})")
        return service.url(port)

    async def _wait_ready(
        self, service: Service, port: int, process: subprocess.Popen[bytes] | None, limit: float
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while True:
            if process is not None and process.poll() is not None:
                self._failed(service, f"exited with status {process.returncode}")
            try:
                await service.ready(self.state, port, within=2.0)
                return
            except ServiceUnavailable as error:
                if loop.time() > deadline:
                    if process is None:
                        raise
                    self._failed(service, f"did not answer within {limit:.0f} s ({error})")
            await asyncio.sleep(0.05)

    def _failed(self, service: Service, what: str) -> NoReturn:
        log = self.state.log(service.name)
        raise ServiceStartFailed(
            f"{service.name} {what}; last lines of {log}:\n{log_tail(log)}",
            service=service.name,
            log=str(log),
        )

    async def stop_started(self, names: Iterable[str] | None = None) -> None:
        """Stop what this manager started (all, or those of ``names``) and forget their records."""
        chosen = set(self._started) if names is None else set(names) & set(self._started)
        for name in chosen:
            record, process = self._started.pop(name)
            await asyncio.to_thread(stop, record, self.services[name].stop_signal, process=process)
            if self.state.read_record(name) == record:
                self.state.drop_record(name)

    async def down(self, names: Iterable[str]) -> list[Status]:
        """Stop the named services of this folder, whoever started them; data stays."""
        if not self.state.root.is_dir():
            return [Status(name, "stopped", None, "was not running") for name in names]
        done = []
        async with self.state.locked():
            for name in names:
                service = self.services[name]
                record = self.state.read_record(name)
                running = record is not None and is_ours(record)
                if record is not None:
                    await asyncio.to_thread(stop, record, service.stop_signal)
                    self.state.drop_record(name)
                await asyncio.to_thread(service.clean_stale, self.state)
                port = self.state.recorded_port(name)
                url = service.url(port) if port else None
                done.append(Status(name, "stopped", url, "" if running else "was not running"))
        return done

    async def status(self, names: Iterable[str]) -> list[Status]:
        return list(await asyncio.gather(*(self._status_one(name) for name in names)))

    async def _status_one(self, name: str) -> Status:
        service = self.services[name]
        if name in self.external:
            external = self.external[name]
            try:
                await service.check(external)
            except ServiceUnavailable as error:
                return Status(name, "unhealthy", external, f"external: {error}")
            return Status(name, "external", external)
        record = self.state.read_record(name)
        port = self.state.recorded_port(name)
        url = service.url(port) if port else None
        if record is None or not is_ours(record):
            return Status(name, "stopped", url)
        try:
            await service.check(service.url(int(record["port"])))
        except ServiceUnavailable as error:
            return Status(name, "unhealthy", url, f"pid {record['pid']}: {error}")
        return Status(name, "running", url, f"pid {record['pid']}")

    async def destroy(self) -> None:
        """Stop every service of this folder and delete what it stored (only evoforum's entries)."""
        if not self.state.root.is_dir():
            return
        await self.down(NAMES)
        async with self.state.locked():
            for entry in OWNED_ENTRIES:
                path = self.state.root / entry
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.state.root.rmdir()
