"""``run_script(workflow, INPUTS)``: what an exported module runs under ``python module.py …``.

The language model comes from the environment (``EVOFORUM_LLM_URL``, ``EVOFORUM_LLM_MODEL``,
``EVOFORUM_LLM_KEY``; see ``evoforum.llm.LLMConfig``). The output is printed (JSON when it is not
text); bad input exits with status 2 and one line, a failed run with status 1. Dialogue tasks
talk over an in-process bus, and memory tasks use an in-process memory that starts empty (a
recall finds nothing the workflow did not remember itself).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections.abc import Sequence
from typing import Any

from evoforum.errors import EvoforumError, UsageError


def run_script(workflow: Any, inputs: Sequence[str], argv: Sequence[str] | None = None) -> None:
    """Run ``workflow`` on the command-line arguments (one per input name) and print its output."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != len(inputs):
        names = " ".join(name.upper() for name in inputs)
        print(f"usage: python {sys.argv[0]} {names}", file=sys.stderr)
        raise SystemExit(2)
    try:
        output = asyncio.run(_run(workflow, dict(zip(inputs, args, strict=True))))
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except EvoforumError as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    print(output if isinstance(output, str) else json.dumps(output, indent=2, default=str))


async def _run(workflow: Any, inputs: dict[str, str]) -> Any:
    from evoforum.bus import MemoryBus
    from evoforum.flow import Runtime
    from evoforum.llm import Ledger
    from evoforum.llm.config import LLMConfig, open_client
    from evoforum.memory import Memory

    # dialogue and memory tasks run on an in-process bus and an empty memory of their own
    bus, memory = MemoryBus(), Memory.in_process("script")

    config = LLMConfig.from_env()
    if config.url is None:
        if _needs_llm(workflow):
            raise UsageError(
                "this workflow asks a language model: set EVOFORUM_LLM_URL (an OpenAI-compatible /v1 URL)"
                " and EVOFORUM_LLM_MODEL"
            )
        async with Runtime(bus=bus, memory=memory, transcripts=False) as runtime:
            return (await runtime.run(workflow, inputs)).output
    async with (
        open_client(config, ledger=Ledger(), rng=random.Random(0)) as llm,
        Runtime(llm=llm, bus=bus, memory=memory, transcripts=False) as runtime,
    ):
        return (await runtime.run(workflow, inputs)).output


def _needs_llm(workflow: Any) -> bool:
    """Whether a task of ``workflow`` (a task, flow or state machine) has ``Depends(providers.llm)``."""
    from evoforum.flow import StateMachine, Task, providers

    if isinstance(workflow, Task):
        return any(dep.provider is providers.llm for _, dep in workflow.signature.depends)
    if isinstance(workflow, StateMachine):
        return any(_needs_llm(state.body) for state in workflow.states.values())
    return any(_needs_llm(task) for task in getattr(workflow, "tasks", ()))
