"""Ctrl-C (SIGINT) and SIGTERM stop a run within seconds, and a second one stops it at once.

``run_stoppable(main)`` runs a coroutine as ``asyncio.run`` does, with its own handlers of both
signals. The first signal cancels the coroutine's task: the run unwinds as on any error (its
MLflow run ends as killed, the evaluator and the services the run started are stopped), and
``Stopped`` (a ``KeyboardInterrupt``) is raised, whose exit status is 128 + the signal's number
(130 for SIGINT, 143 for SIGTERM). What was done stays: the checkpoint of the last generation, the
journal of item results and the recorded model answers, so ``evoforum resume`` continues the run.

Unwinding gets ``GRACE_S`` seconds. Then, or at a second signal, the process ends at once
(``os._exit``), as a killed run does: each server it started gets its stop signal from the kernel
when the process ends, and the run stays resumable from its last checkpoint. The handlers run
between two bytecodes of the main thread, so a signal is seen even while the event loop is busy in
blocking code; the deadline is kept by a thread of its own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")

GRACE_S = 7.0
"""How long a stopping run may unwind before the process ends at once."""
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """The run was stopped by ``signum``; ``status`` is the conventional exit status."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.signum = signum
        self.status = 128 + signum


def _say(text: str) -> None:
    """One line on stderr, safe inside a signal handler (no buffered stream is touched)."""
    os.write(sys.stderr.fileno(), f"evoforum: {text}\n".encode())


def _exit_now(status: int, text: str) -> None:
    _say(text)
    os._exit(status)


class _Stopper:
    """The handler of both signals for one coroutine's task."""

    def __init__(self, loop: asyncio.AbstractEventLoop, grace_s: float) -> None:
        self.loop = loop
        self.grace_s = grace_s
        self.task: asyncio.Task[Any] | None = None
        self.signum: int | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            _exit_now(128 + self.signum, "stopped at once")
        self.signum = signum
        name = signal.Signals(signum).name
        _say(f"{name}: stopping the run (it stays resumable); Ctrl-C again stops it at once")
        threading.Thread(target=self._deadline, name="evoforum-stop-deadline", daemon=True).start()
        if self.task is not None:
            self.loop.call_soon_threadsafe(self.task.cancel)

    def _deadline(self) -> None:
        threading.Event().wait(self.grace_s)
        assert self.signum is not None
        _exit_now(128 + self.signum, f"still stopping after {self.grace_s:g} s: stopped at once")


def run_stoppable(
    main: Coroutine[Any, Any, T],
    *,
    stopped: Callable[[], str] = lambda: "interrupted",
    grace_s: float = GRACE_S,
) -> T:
    """``asyncio.run(main)``, stopped by SIGINT or SIGTERM as the module says; ``stopped()`` is
    the message of the ``Stopped`` it then raises."""
    with asyncio.Runner() as runner:
        stopper = _Stopper(runner.get_loop(), grace_s)

        async def guarded() -> T:
            stopper.task = asyncio.current_task()
            if stopper.signum is not None:  # the signal came before the task
                main.close()
                raise asyncio.CancelledError
            return await main

        previous = {signum: signal.signal(signum, stopper) for signum in SIGNALS}
        try:
            return runner.run(guarded())
        except BaseException as error:
            if stopper.signum is None:
                raise
            if not isinstance(error, asyncio.CancelledError | KeyboardInterrupt):
                _say(f"while stopping: {type(error).__name__}: {error}")
            raise Stopped(stopper.signum, stopped()) from None
        finally:
            if stopper.signum is None:  # while stopping, a second signal still stops at once
                for signum, handler in previous.items():
                    signal.signal(signum, handler)
