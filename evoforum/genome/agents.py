"""Agent specs: what a task calls. An LLM agent or a function from the genome's code."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field

from evoforum.genome._base import Frozen

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""A ``{name}`` in a prompt template (group 1 is the name); other braces are plain text."""


def placeholders(template: str) -> set[str]:
    """The names of the ``{placeholders}`` in a prompt template."""
    return set(PLACEHOLDER.findall(template))


class OutputSchemaSpec(Frozen):
    """The structured output an LLM agent is asked for: a name and a JSON schema."""

    name: str
    json_schema: dict[str, Any] = Field(default_factory=dict)


class LLMAgentSpec(Frozen):
    """A language-model agent.

    ``prompt`` is the user message template; its ``{placeholders}`` are filled from the task's
    wired parameters. ``tools`` name functions of the genome's code the model may call.
    ``max_tokens`` caps the completion tokens of each call, 16 to 4096 (None: the run's cap
    applies); when None it is left out of the dumped data, so older genomes keep their hashes.
    """

    kind: Literal["llm"] = "llm"
    name: str
    model: str
    system_prompt: str = ""
    prompt: str = ""
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    tools: tuple[str, ...] = ()
    output_schema: OutputSchemaSpec | None = None
    max_tokens: int | None = Field(default=None, ge=16, le=4096, exclude_if=lambda cap: cap is None)


class FunctionAgentSpec(Frozen):
    """An agent that is a plain function of the genome's code; ``function`` is its name there."""

    kind: Literal["function"] = "function"
    name: str
    function: str


AgentSpec = Annotated[LLMAgentSpec | FunctionAgentSpec, Field(discriminator="kind")]
"""Either kind of agent, told apart by ``kind``."""
