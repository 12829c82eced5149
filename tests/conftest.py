"""Shared session fixtures: the real embedded services, started lazily, one state folder per run.

``nats_url``, ``postgres_url`` and ``llm_url`` each start only their own service, the first time a
test asks for it; all of them share one temporary state folder and stop at the end of the session.
``EVOFORUM_NATS_URL`` / ``EVOFORUM_POSTGRES_URL`` / ``EVOFORUM_LLM_URL`` point a fixture at an
external server instead (``EVOFORUM_LLM_MODEL`` names its model).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from evoforum.services import LocalServices


@pytest.fixture(scope="session")
def services_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The state folder of the session's services."""
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
async def local_services_session(services_state_dir: Path) -> AsyncIterator[LocalServices]:
    """The session's services; whatever they started is stopped at session end."""
    services = LocalServices(services_state_dir)
    try:
        yield services
    finally:
        await services.aclose()


@pytest.fixture(scope="session")
async def nats_url(local_services_session: LocalServices) -> str:
    """``nats://127.0.0.1:PORT`` of a NATS server with JetStream."""
    return await local_services_session.url("nats")


@pytest.fixture(scope="session")
async def postgres_url(local_services_session: LocalServices) -> str:
    """``postgresql://…`` of a PostgreSQL 18 whose database has the ``vector`` extension."""
    return await local_services_session.url("postgres")


@pytest.fixture(scope="session")
async def llm_url(local_services_session: LocalServices) -> str:
    """``http://127.0.0.1:PORT/v1`` of the local OpenAI-compatible server (chat and embeddings)."""
    return await local_services_session.url("llm")


@pytest.fixture(scope="session")
async def llm_model(local_services_session: LocalServices) -> str:
    """The model name to send to ``llm_url`` (does not start the server by itself)."""
    return await local_services_session.llm_model()


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
