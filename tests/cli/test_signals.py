"""SIGINT and SIGTERM stop a coroutine run by ``run_stoppable``: it unwinds, within a deadline
even when its cleanup hangs or the event loop is blocked, and a second signal ends it at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

PROGRAM = """
import asyncio, sys, time
from evoforum.cli._main import main
from evoforum.cli import _commands
from evoforum.cli._signals import run_stoppable

async def work():
    try:
        print("ready", flush=True)
        {body}
    finally:
        {cleanup}
        print("cleaned", file=sys.stderr, flush=True)

def command(args):
    run_stoppable(work(), stopped=lambda: "interrupted; resume it", grace_s={grace})
    return 0

_commands.run_command = command
sys.exit(main(["run", "config.yaml", "--out", "out"]))
"""


def _start(body: str, cleanup: str = "pass", grace: float = 30.0) -> subprocess.Popen[str]:
    source = textwrap.dedent(PROGRAM).format(body=body, cleanup=cleanup, grace=grace)
    process = subprocess.Popen(
        [sys.executable, "-c", source], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def _stop(process: subprocess.Popen[str], *signums: int, between: float = 0.5) -> tuple[float, str]:
    """Send the signals (``between`` seconds apart); seconds from the first to the exit, and stderr."""
    sent = time.monotonic()
    for index, signum in enumerate(signums):
        if index:
            time.sleep(between)
        process.send_signal(signum)
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    return time.monotonic() - sent, stderr


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_unwinds_the_run_and_exits_with_its_status(signum: int, status: int) -> None:
    process = _start("await asyncio.sleep(60)")
    took, stderr = _stop(process, signum)
    assert took < 5
    assert process.returncode == status
    assert "cleaned" in stderr  # the coroutine's cleanup ran
    assert stderr.rstrip().endswith("evoforum: interrupted; resume it")
    assert "Traceback" not in stderr


def test_a_hanging_cleanup_is_cut_short_at_the_deadline() -> None:
    process = _start("await asyncio.sleep(60)", cleanup="time.sleep(60)", grace=1.0)
    took, stderr = _stop(process, signal.SIGINT)
    assert 0.9 < took < 5
    assert process.returncode == 130
    assert "still stopping after 1 s: stopped at once" in stderr
    assert "Traceback" not in stderr


def test_a_blocked_event_loop_is_stopped_at_the_deadline() -> None:
    process = _start("time.sleep(60)", grace=1.0)  # blocking code: the task cannot be cancelled
    took, stderr = _stop(process, signal.SIGTERM)
    assert took < 5
    assert process.returncode == 143
    assert "stopped at once" in stderr


def test_a_second_ctrl_c_stops_at_once() -> None:
    process = _start("await asyncio.sleep(60)", cleanup="time.sleep(60)", grace=30.0)
    took, stderr = _stop(process, signal.SIGINT, signal.SIGINT, between=0.5)
    assert took < 5
    assert process.returncode == 130
    assert "stopping the run" in stderr
    assert "evoforum: stopped at once" in stderr
    assert "Traceback" not in stderr
