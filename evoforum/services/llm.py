"""The local LLM: llama.cpp's OpenAI-compatible server on the local Qwen model.

It serves ``/v1/chat/completions`` and ``/v1/embeddings`` from one loaded model. Qwen's GGUF
declares no pooling, which would make ``/v1/embeddings`` return one vector per token; the metadata
override ``qwen2.pooling_type=1`` (mean) makes it one vector per input, as OpenAI clients expect.
"""

from __future__ import annotations

import asyncio
import sys

from evoforum.services._health import llm_models
from evoforum.services._service import Service
from evoforum.services._state import StateDir
from evoforum.services.model import MODEL_NAME, ensure_model

THREADS = 2
CONTEXT = 4096


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
            "--n_threads", str(THREADS),
            "--n_threads_batch", str(THREADS),
            "--n_ctx", str(CONTEXT),
            "--embedding", "true",
            "--kv_overrides", "qwen2.pooling_type=int:1",
        ]  # fmt: skip

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}/v1"

    async def check(self, url: str, within: float = 3.0) -> None:
        await llm_models(url, within)
