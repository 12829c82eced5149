"""The local LLM: llama.cpp's OpenAI-compatible server on the local Qwen model.

It serves ``/v1/chat/completions`` and ``/v1/embeddings`` from one loaded model. Qwen's GGUF
declares no pooling, which would make ``/v1/embeddings`` return one vector per token; the metadata
override ``qwen2.pooling_type=1`` (mean) makes it one vector per input, as OpenAI clients expect.
"""

from __future__ import annotations

import asyncio
import os
import sys

from evoforum.errors import ConfigError
from evoforum.services._health import llm_models
from evoforum.services._service import Service
from evoforum.services._state import StateDir
from evoforum.services.model import MODEL_NAME, ensure_model

THREADS = 2
"""The server's threads (at most the CPUs) unless ``EVOFORUM_LLM_THREADS`` says otherwise.
On a machine whose cores other work keeps busy, llama.cpp's spinning threads slow each other down
(measured on 2 busy cores: ~0.9 tokens/s with 2 threads, ~16 with 1); 1 is then the better choice."""
CONTEXT = 4096


def threads() -> int:
    """How many threads the local server uses (``EVOFORUM_LLM_THREADS``, else ``THREADS``)."""
    text = os.environ.get("EVOFORUM_LLM_THREADS", "").strip()
    if not text:
        return min(THREADS, os.cpu_count() or 1)
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"EVOFORUM_LLM_THREADS must be a whole number of at least 1, not {text!r}")
    return int(text)


class LLMService(Service):
    name = "llm"
    env_var = "EVOFORUM_LLM_URL"
    start_timeout = 120.0

    async def prepare(self, state: StateDir) -> None:
        await asyncio.to_thread(ensure_model)

    def argv(self, state: StateDir, port: int) -> list[str]:
        model = ensure_model()  # verified by ``prepare``: only the stamp is read here
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(model),
            "--model_alias", MODEL_NAME,
            "--host", "127.0.0.1",
            "--port", str(port),
            "--n_threads", str(threads()),
            "--n_threads_batch", str(threads()),
            "--n_ctx", str(CONTEXT),
            "--embedding", "true",
            "--kv_overrides", "qwen2.pooling_type=int:1",
        ]  # fmt: skip

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}/v1"

    async def check(self, url: str, within: float = 3.0) -> None:
        await llm_models(url, within)
