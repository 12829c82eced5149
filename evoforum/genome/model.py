"""The workflow genome: what evolution works on.

The content hash (``WorkflowGenome.hash``) is ``evoforum.hashing.digest`` in domain ``"genome"`` over
the JSON of every field that changes behaviour: ``inputs``, ``agents``, ``code`` and ``entry`` (with
all defaults written out, except an LLM agent's ``max_tokens`` when None: that key is left out,
so genomes from before the gene hash as they did). ``metadata`` (name, notes, origin) is left out:
renaming a genome or recording where it came from never changes its hash. Order counts where it
is meaningful (agents and tasks in the order given, wires, states, transitions).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError, field_validator

from evoforum.errors import GenomeInvalid
from evoforum.genome._base import Frozen
from evoforum.genome.agents import AgentSpec
from evoforum.genome.flows import BodySpec
from evoforum.genome.validate import find_problems
from evoforum.hashing import Hash, digest

HASHED_FIELDS = ("inputs", "agents", "code", "entry")
"""The fields the content hash covers; ``metadata`` is the one field left out."""


class Metadata(Frozen):
    """What does not change behaviour: a name, free notes, and where the genome came from."""

    name: str = ""
    notes: str = ""
    origin: dict[str, Any] = Field(default_factory=dict)


class WorkflowGenome(Frozen):
    """A complete workflow as data: inputs, agents, helper code and the entry flow.

    ``code`` is the Python source of helper functions and tools (a module). It is only ever parsed
    here, never executed. Blank lines around it are trimmed and it ends with one newline.
    """

    inputs: tuple[str, ...] = ("input",)
    agents: tuple[AgentSpec, ...] = ()
    code: str = ""
    entry: BodySpec
    metadata: Metadata = Field(default_factory=Metadata)

    @field_validator("code")
    @classmethod
    def _trim_code(cls, code: str) -> str:
        return normalize_code(code)

    @property
    def hash(self) -> Hash:
        """The content hash over ``HASHED_FIELDS``."""
        return digest(self.model_dump(mode="json", include=set(HASHED_FIELDS)), domain="genome")

    def agent(self, name: str) -> AgentSpec | None:
        """The agent called ``name``, or None."""
        return next((agent for agent in self.agents if agent.name == name), None)

    def problems(self) -> list[tuple[str, str]]:
        """Every problem of this genome as ``(path, what)``; empty when it is valid."""
        return find_problems(self)

    def validate_all(self) -> WorkflowGenome:
        """This genome, or ``GenomeInvalid`` listing every problem."""
        found = self.problems()
        if found:
            raise GenomeInvalid(f"genome {self.hash[:12]}", found, hash=self.hash)
        return self

    @classmethod
    def load(cls, data: Any) -> WorkflowGenome:
        """A valid genome from JSON text or plain data; ``GenomeInvalid`` for any problem."""
        try:
            if isinstance(data, str | bytes):
                genome = cls.model_validate_json(data)
            else:
                genome = cls.model_validate(data)
        except ValidationError as error:
            raise GenomeInvalid("genome", _pydantic_problems(error)) from None
        return genome.validate_all()


def normalize_code(code: str) -> str:
    """Code with blank lines at both ends trimmed and exactly one final newline ("" stays "")."""
    lines = code.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def _pydantic_problems(error: ValidationError) -> list[tuple[str, str]]:
    found = []
    for item in error.errors():
        path = ""
        for part in item["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        found.append((path, item["msg"]))
    return found
