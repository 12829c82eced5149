"""A memory of past edits and what they did to fitness, offered to the LLM operators as examples.

An edit is what an LLM operator changed (a function, a prompt, a whole program: ``before`` and
``after``) and the fitness delta the child showed over its parent. Edits are stored by the meaning
of ``before`` in a ``SemanticMemory`` (any ``Embedder`` plus any ``VectorStore``), so an operator
about to edit something finds the edits made to similar things, best improvement first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from evoforum.hashing import digest
from evoforum.memory import SemanticMemory

EDIT_KEY = "edit"
"""Where an LLM operator writes the edit it made into the child's ``metadata.origin``."""


class Edit(BaseModel):
    """One remembered edit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    operator: str
    kind: str
    before: str
    after: str
    delta: float
    parent_score: float | None = None

    @property
    def id(self) -> str:
        return digest(self.model_dump(mode="json"), domain="operator-edit")


class EditMemory:
    """Edits by meaning: ``await memory.record(edit)``, ``await memory.examples(text, k)``."""

    def __init__(self, memory: SemanticMemory) -> None:
        self.memory = memory

    async def record(self, edit: Edit) -> str:
        payload = edit.model_dump(mode="json")
        [stored] = await self.memory.add([edit.before], [payload], [edit.id])
        return stored

    async def record_child(self, child: Any, parent_score: float, child_score: float) -> str | None:
        """Remember the edit an LLM operator wrote into ``child.metadata.origin`` (if any)."""
        edit = child.metadata.origin.get(EDIT_KEY)
        if not isinstance(edit, Mapping):
            return None
        return await self.record(
            Edit(
                operator=str(child.metadata.origin.get("operator", edit.get("operator", ""))),
                kind=str(edit.get("kind", "")),
                before=str(edit.get("before", "")),
                after=str(edit.get("after", "")),
                delta=child_score - parent_score,
                parent_score=parent_score,
            )
        )

    async def examples(self, text: str, k: int = 3, *, improving: bool = True) -> list[Edit]:
        """Up to ``k`` edits of things like ``text``, nearest first (with ``improving``: only
        edits that raised fitness)."""
        hits = await self.memory.search(text, k=max(k * 4, k))
        found = []
        for hit in hits:
            data = {key: hit.payload[key] for key in Edit.model_fields if key in hit.payload}
            edit = Edit.model_validate(data)
            if not improving or edit.delta > 0:
                found.append(edit)
        return found[:k]


def format_examples(edits: Sequence[Edit], limit: int = 1200) -> str:
    """Edits as plain text for a prompt (no code fences, so they never read as the target)."""
    if not edits:
        return "(none yet)"
    parts = []
    for edit in edits:
        part = f"An edit of a {edit.kind} that changed fitness by {edit.delta:+.3f}:\n"
        part += f"<before>\n{edit.before[:limit]}\n</before>\n<after>\n{edit.after[:limit]}\n</after>"
        parts.append(part)
    return "\n\n".join(parts)
