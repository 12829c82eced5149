"""How long ``evoforum services up`` takes: cold (model assembled, cluster created) and warm.

Prints one JSON object (seconds):
  cold_up_s            first ``up`` of nats + postgres + llm in a new state folder and model cache
  cold_first_answer_s  from then until the model answered a one-token chat completion
  warm_up_s            ``up`` after ``down`` (model cached and verified by its stamp, cluster kept)
  warm_first_answer_s  from then until the model answered
  warm_ready_s         warm_up_s + warm_first_answer_s (target: <= 10 s)
  reuse_up_s           ``up`` while everything already runs
  model_assembly_s     assembling and hashing the 491 MB model alone
  load_average_*       the machine's 1-minute load average before and after (2 cores here)

Run: python benchmarks/services.py
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cli(state: Path, env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "evoforum", "services", *args, "--state-dir", str(state)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def _llm_url(state: Path) -> str:
    port = json.loads((state / "ports.json").read_text())["llm"]
    return f"http://127.0.0.1:{port}/v1"


async def _first_answer(url: str) -> float:
    """Seconds until the server answered a one-token chat completion (client set up beforehand)."""
    from openai import AsyncOpenAI

    from evoforum.services import MODEL_NAME

    client = AsyncOpenAI(base_url=url, api_key="local")
    await client.models.list()  # the client's own lazy imports and connection are not the server's time
    started = time.perf_counter()
    await client.chat.completions.create(
        model=MODEL_NAME, messages=[{"role": "user", "content": "Say ok."}], max_tokens=1
    )
    return time.perf_counter() - started


def main() -> None:
    from evoforum.services import model

    figures: dict[str, float] = {"load_average_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="evoforum-bench-") as scratch:
        root = Path(scratch)
        env = {**os.environ, "EVOFORUM_MODEL_DIR": str(root / "models")}
        for name in ("EVOFORUM_NATS_URL", "EVOFORUM_POSTGRES_URL", "EVOFORUM_LLM_URL"):
            env.pop(name, None)
        state = root / "state"
        try:
            figures["cold_up_s"] = _cli(state, env, "up")
            figures["cold_first_answer_s"] = asyncio.run(_first_answer(_llm_url(state)))
            figures["reuse_up_s"] = _cli(state, env, "up")
            _cli(state, env, "down")
            figures["warm_up_s"] = _cli(state, env, "up")
            figures["warm_first_answer_s"] = asyncio.run(_first_answer(_llm_url(state)))
        finally:
            _cli(state, env, "destroy")
        figures["warm_ready_s"] = figures["warm_up_s"] + figures["warm_first_answer_s"]
        os.environ["EVOFORUM_MODEL_DIR"] = str(root / "models-again")
        started = time.perf_counter()
        model.ensure_model()
        figures["model_assembly_s"] = time.perf_counter() - started
    figures["load_average_after"] = os.getloadavg()[0]
    print(json.dumps({key: round(value, 3) for key, value in figures.items()}))


if __name__ == "__main__":
    main()
