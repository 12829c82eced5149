"""The Python face of the services: ``local_services()`` and ``LocalServices``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from evoforum.llm.slots import server_slots
from evoforum.services._health import llm_models
from evoforum.services._manager import Manager, external_urls, select
from evoforum.services._state import StateDir, resolve_state_dir
from evoforum.services.model import MODEL_NAME

LLM_MODEL_ENV = "EVOFORUM_LLM_MODEL"


class ServiceURLs(BaseModel):
    """Where the services answer; a service left out by ``only`` is None."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    nats: str | None = None
    """``nats://127.0.0.1:PORT`` (JetStream on)."""
    postgres: str | None = None
    """``postgresql://evoforum@127.0.0.1:PORT/evoforum`` (extension ``vector`` created)."""
    llm: str | None = None
    """``http://127.0.0.1:PORT/v1``, OpenAI-compatible: chat completions and embeddings."""
    llm_model: str = MODEL_NAME
    """The model name to send to ``llm``."""
    llm_slots: int | None = None
    """How many requests ``llm`` decodes at once (its ``/props``); None when it does not say."""


class LocalServices:
    """The services of one state folder, started on demand and stopped by ``aclose``.

    ``aclose`` stops only what this object started: services it found running (for instance from
    ``evoforum services up``) keep running. What it starts gets a stop signal from the kernel when
    the thread that started it ends, so a killed owner leaves nothing behind (Linux): start
    services from a thread that lives as long as they should, such as the event loop's.
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str] | None = None,
        *,
        nats: str | None = None,
        postgres: str | None = None,
        llm: str | None = None,
        llm_model: str | None = None,
    ) -> None:
        self.state_dir: Path = resolve_state_dir(state_dir)
        overrides = {"nats": nats, "postgres": postgres, "llm": llm}
        self._manager = Manager(StateDir(self.state_dir), owned=True, external=external_urls(overrides))
        self._llm_model = llm_model or os.environ.get(LLM_MODEL_ENV)

    async def start(self, only: Iterable[str] | None = None) -> ServiceURLs:
        """Make the named services (all by default) answer; their URLs."""
        urls = await self._manager.ensure(select(only))
        slots = await server_slots(urls["llm"]) if "llm" in urls else None
        return ServiceURLs(**urls, llm_model=await self.llm_model(), llm_slots=slots)

    async def llm_model(self) -> str:
        """The model name: the one given, else ``$EVOFORUM_LLM_MODEL``, else the first one an
        external server lists, else the local model's name. Never starts a server."""
        if self._llm_model:
            return self._llm_model
        if "llm" in self._manager.external:
            listed = await llm_models(self._manager.external["llm"])
            if listed:
                self._llm_model = listed[0]
                return listed[0]
        return MODEL_NAME

    async def url(self, name: str) -> str:
        """One service's URL, starting it when needed."""
        urls = await self.start([name])
        url: str | None = getattr(urls, name)
        assert url is not None
        return url

    async def aclose(self) -> None:
        """Stop what this object started."""
        await self._manager.stop_started()


@asynccontextmanager
async def local_services(
    state_dir: str | os.PathLike[str] | None = None,
    only: Iterable[str] | None = None,
    *,
    nats: str | None = None,
    postgres: str | None = None,
    llm: str | None = None,
    llm_model: str | None = None,
) -> AsyncIterator[ServiceURLs]:
    """Run the embedded services for the duration of the block.

    ``state_dir`` defaults to ``$EVOFORUM_STATE_DIR`` or ``./.evoforum``; ``only`` limits the
    services (``"nats"``, ``"postgres"``, ``"llm"``). A URL given here or in
    ``EVOFORUM_NATS_URL`` / ``EVOFORUM_POSTGRES_URL`` / ``EVOFORUM_LLM_URL`` is used instead of
    starting that service; one that does not answer raises ``ServiceUnavailable``. Services already
    running for the folder are reused and left running; the ones started here stop on exit.
    """
    services = LocalServices(state_dir, nats=nats, postgres=postgres, llm=llm, llm_model=llm_model)
    try:
        yield await services.start(only)
    finally:
        await services.aclose()
