"""``mlflow ui`` as a user starts it, for tests that browse a run folder over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def mlflow_ui(args: Sequence[str], cwd: Path) -> Iterator[str]:
    """``mlflow ui ARGS --host 127.0.0.1 --port P`` started in ``cwd``, once it answers; its URL."""
    port = free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    argv = [str(mlflow), "ui", *args, "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(  # a session of its own: its uvicorn workers stop with it
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "mlflow ui did not answer within 120 s"
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: uvicorn's graceful stop can take longer
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
