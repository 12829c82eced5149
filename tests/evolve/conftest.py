"""Fixtures of the evolution tests: one Ray instance for the whole session."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """Ray with 2 CPUs, quiet, its files under a short temporary folder (socket paths are short)."""
    ray = pytest.importorskip("ray")
    for key, value in {"RAY_AIR_NEW_OUTPUT": "0", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}.items():
        os.environ.setdefault(key, value)
    temp = tempfile.mkdtemp(prefix="efr-")
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
