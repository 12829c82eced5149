"""End-to-end fixtures: the command line as a subprocess, against real services.

The forum store is the session's PostgreSQL (``postgres_url``), handed over as
``EVOFORUM_POSTGRES_URL``. Plumbing tests use the seeded stub model served by
``python -m evoforum.llm.stub`` in its own process; tests marked ``llm`` use the real local model.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def stub_server(*args: str) -> Iterator[str]:
    """The URL (…/v1) of a stub model server (``python -m evoforum.llm.stub ARGS``) running in its
    own process for the block."""
    process = subprocess.Popen(
        [sys.executable, "-m", "evoforum.llm.stub", "--seed", "1", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http"), url
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def stub_llm_url() -> Iterator[str]:
    """The URL (…/v1) of a stub model server running in its own process."""
    with stub_server() as url:
        yield url


def cli_env(tmp_path: Path, **urls: str) -> dict[str, str]:
    """The environment of a CLI subprocess: services from ``urls``, state in ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVOFORUM_")}
    env["EVOFORUM_STATE_DIR"] = str(tmp_path / "state")
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    for name, url in urls.items():
        env[f"EVOFORUM_{name.upper()}"] = url
    return env


def evoforum(
    *args: str, env: Mapping[str, str], timeout: float = 240, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """``python -m evoforum ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "evoforum", *args],
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
