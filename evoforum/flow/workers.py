"""The worker processes of ``executor="process"`` tasks: one call at a time each, killed on cancel.

A ``concurrent.futures.ProcessPoolExecutor`` cannot stop a call once a worker runs it: cancelling
its future does nothing, so a timed-out call keeps its worker busy, and ``shutdown(wait=True)``
waits for it. Here each call takes an idle worker (or starts one, up to ``size``), sends it the
call over a pipe and waits for the answer in a thread. When the awaiting task is cancelled (a
task timeout, a cancelled run) the worker is killed and forgotten: the call stops, and the next
call gets a fresh worker. ``close()`` stops idle workers and kills busy ones; it blocks (it joins
processes), so ``Runtime.aclose`` runs it in a thread, never on the event loop.

Workers are started from a forkserver, so they inherit none of this process's other pipes: a
killed worker's pipe reaches end-of-file, which ends the thread waiting on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import threading
from multiprocessing.connection import Connection
from typing import Any

from evoforum.errors import RunError

_STOP_WAIT = 2.0
"""Seconds an idle worker gets to leave on its own at ``close()`` before it is killed."""

Call = tuple[str, str, dict[str, Any]]
"""(module, qualified name, keyword arguments) of a function a worker imports and calls."""


def _serve(conn: Connection) -> None:
    """A worker's loop: receive a call, run it, send back ("ok", value) or ("error", exception)."""
    from evoforum.flow.executors import call_by_reference

    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        module, qualname, kwargs = request
        try:
            answer: tuple[str, Any] = ("ok", call_by_reference(module, qualname, kwargs))
        except BaseException as error:  # the caller gets the task's own exception
            answer = ("error", error)
        try:
            conn.send(answer)
        except Exception as error:  # a value or an exception that does not pickle
            kind = "value" if answer[0] == "ok" else "exception"
            conn.send(("error", RunError(f"{qualname}: its {kind} cannot be sent back: {error!r}")))


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, context: Any) -> None:
        parent, child = multiprocessing.Pipe()
        self.conn = parent
        self.process = context.Process(target=_serve, args=(child,), daemon=True, name="evoforum-task")
        self.process.start()
        child.close()  # the worker holds the only other end: its death is our end-of-file

    def call(self, request: Call) -> tuple[str, Any]:
        """Send ``request`` and wait for the answer (blocking: run in a thread)."""
        try:
            self.conn.send(request)
            return self.conn.recv()  # type: ignore[no-any-return]
        except (EOFError, OSError):
            self.process.join()
            raise RunError(
                f"the worker process running {request[1]} ended (exit code {self.process.exitcode})",
                exitcode=self.process.exitcode,
            ) from None
        finally:
            if not self.process.is_alive():
                self.conn.close()

    def kill(self) -> None:
        """Kill the process; a thread waiting in ``call`` then reaches end-of-file and reaps it."""
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()

    def stop(self) -> None:
        """Ask an idle worker to leave; kill it if it has not left in time (blocking)."""
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.process.join(_STOP_WAIT)
        if self.process.is_alive():
            self.kill()
            self.process.join()
        self.conn.close()


class WorkerPool:
    """Up to ``size`` worker processes (default: one per core), started on first use."""

    def __init__(self, size: int | None = None) -> None:
        self.size = size or os.cpu_count() or 1
        self._context = multiprocessing.get_context("forkserver")
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._closed = False

    async def call(self, module: str, qualname: str, kwargs: dict[str, Any]) -> Any:
        """Call ``module.qualname(**kwargs)`` in a worker; cancelling the call kills its worker."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:  # a runtime used on another loop
            self._slots = (loop, asyncio.Semaphore(self.size))
        async with self._slots[1]:
            worker = self._take()
            try:
                kind, value = await asyncio.to_thread(worker.call, (module, qualname, kwargs))
            except BaseException:  # cancelled (a timeout) or the worker died: never reuse it
                self._drop(worker)
                raise
            self._give_back(worker)
        if kind == "error":
            raise value
        return value

    def close(self) -> None:
        """Stop idle workers, kill busy ones (their calls fail); blocking, so not on the loop."""
        with self._lock:
            self._closed = True
            idle, busy = self._idle, list(self._busy)
            self._idle, self._busy = [], set()
        for worker in busy:
            worker.kill()
        for worker in idle:
            worker.stop()

    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise RunError("the runtime's worker processes are closed")
            worker = self._idle.pop() if self._idle else None
        if worker is None:
            worker = _Worker(self._context)
        with self._lock:
            self._busy.add(worker)
        return worker

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            keep = not self._closed and worker.process.is_alive()
            if keep:
                self._idle.append(worker)
        if not keep:
            worker.kill()

    def _drop(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
        worker.kill()
