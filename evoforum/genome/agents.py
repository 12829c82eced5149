"""Agent specs: what a task calls. An LLM agent, a function from the genome's code, or a use of
the runtime's services: memory (``RecallSpec``, ``RememberSpec``) and the bus (``RequestSpec``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from evoforum.genome._base import Frozen

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""A ``{name}`` in a prompt template (group 1 is the name); other braces are plain text."""


def placeholders(template: str) -> set[str]:
    """The names of the ``{placeholders}`` in a prompt template."""
    return set(PLACEHOLDER.findall(template))


def fill(template: str, values: Mapping[str, Any]) -> str:
    """``template`` with each ``{name}`` of ``values`` filled in (other braces are left alone)."""
    return PLACEHOLDER.sub(lambda m: str(values[m[1]]) if m[1] in values else m[0], template)


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


SOLVED = "solved"
"""The memory collection of solved train items (fields ``problem`` and ``solution``): a run stores
its experiment's there before a genome that recalls from it runs; workflows only read it."""
EXAMPLE_TEMPLATE = "A solved example:\n\n{problem}\n\nSolution:\n\n{solution}"
"""How ``RecallSpec`` shows a recalled solved item by default (the few-shot block of a prompt)."""
COLLECTION_PATTERN = r"^[a-z][a-z0-9_]{0,25}$"
"""A memory collection's name (``evoforum.memory.Memory`` names its table after it)."""
SUBJECT_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){0,3}$"
"""A dialogue subject's name: one to four dot-separated lowercase tokens."""


class RecallSpec(Frozen):
    """Memory recall: the ``k`` items of ``collection`` nearest in meaning to the task's one
    input (the query), each shown with ``template`` (its ``{placeholders}`` are the item's
    fields) and followed by a blank line, so the text can begin a prompt; "" when none is stored.
    Items are found by the embedding of the field they were stored by (``RememberSpec.key``; the
    ``problem`` of a solved train item)."""

    kind: Literal["recall"] = "recall"
    name: str
    collection: str = Field(default=SOLVED, pattern=COLLECTION_PATTERN)
    k: int = Field(default=2, ge=1, le=8)
    template: str = EXAMPLE_TEMPLATE


class RememberSpec(Frozen):
    """Memory store: the task's inputs (as text) become one item of ``collection`` (its fields are
    the task's parameters), stored by the embedding of the input ``key``; the task returns the
    item's id (a hash of its fields, so storing it again replaces it)."""

    kind: Literal["remember"] = "remember"
    name: str
    collection: str = Field(pattern=COLLECTION_PATTERN)
    key: str = "problem"


class RequestSpec(Frozen):
    """Schematized dialogue: the task sends its inputs as one request on the bus subject
    ``subject``, whose schema has one text field per name in ``fields`` (the task wires exactly
    those) and whose reply is ``{"text": ...}``; the LLM agent ``responder`` serves the subject
    for the run (its prompt's ``{placeholders}`` filled from the request) and its answer is the
    reply, which the task returns. Requests and replies land in the forum with the run's bus."""

    kind: Literal["request"] = "request"
    name: str
    subject: str = Field(pattern=SUBJECT_PATTERN)
    fields: tuple[str, ...]
    responder: str
    timeout_s: float = Field(default=120.0, gt=0, le=600)


AgentSpec = Annotated[
    LLMAgentSpec | FunctionAgentSpec | RecallSpec | RememberSpec | RequestSpec, Field(discriminator="kind")
]
"""Any kind of agent, told apart by ``kind``."""
