"""A memory of past edits and what they did to fitness, offered to the LLM operators as examples.

An edit is what an LLM operator changed (a function, a prompt, a whole program: ``before`` and
``after``) and the fitness delta the child showed over its parent. Edits are stored by the meaning
of ``before`` in a ``SemanticMemory`` (any ``Embedder`` plus any ``VectorStore``), so an operator
about to edit something finds the edits made to similar things, best improvement first.

The ordered list of edits is the memory's state: ``state()`` and ``restore()`` checkpoint it with
the run. The vector store is an index derived from that list. Before its first use, and again
after a ``restore``, the memory makes the store hold exactly its edits: it deletes every other
row (such as the edits a killed process recorded after its last checkpoint, or the rows of an
earlier run in the same table) and adds the edits that are missing, embedding them again. A
store that outlives the process (a pgvector table) needs ``stored``, a function listing the
ids it holds; without it the store is taken to hold only what this memory put into it. Hits with
the same score come back in the order the edits were first recorded, whatever the backend does
with ties, so a resumed run sees the same examples as one that was never stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from evoforum.evolve.individual import is_failure
from evoforum.hashing import digest
from evoforum.memory import SemanticMemory

EDIT_KEY = "edit"
"""Where an LLM operator writes the edit it made into the child's ``metadata.origin``."""
BATCH = 32
"""Texts per embedding request when the store is rebuilt."""

log = logging.getLogger("evoforum.evolve")


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
    """Edits by meaning: ``await memory.record(edit)``, ``await memory.examples(text, k)``; see
    the module docstring for ``state``, ``restore`` and ``stored``."""

    def __init__(
        self, memory: SemanticMemory, *, stored: Callable[[], Awaitable[Sequence[str]]] | None = None
    ) -> None:
        self.memory = memory
        self._stored = stored
        self._edits: dict[str, Edit] = {}  # by id, in the order first recorded
        self._indexed: set[str] = set()  # the ids this object put into the store
        self._synced = False
        self._lock = asyncio.Lock()

    @property
    def edits(self) -> list[Edit]:
        """Every edit remembered, in the order first recorded."""
        return list(self._edits.values())

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps: the edits, in order (plain JSON)."""
        return {"edits": [edit.model_dump(mode="json") for edit in self._edits.values()]}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Remember exactly the edits of ``state``; the store follows before the next use."""
        edits = (Edit.model_validate(data) for data in state["edits"])
        self._edits = {edit.id: edit for edit in edits}
        self._synced = False

    async def record(self, edit: Edit) -> str:
        """Remember ``edit`` (once: an edit recorded again keeps its place); returns its id."""
        await self._sync()
        if edit.id not in self._edits:
            await self._add([edit])
            self._edits[edit.id] = edit
        return edit.id

    async def record_child(self, child: Any, parent_score: float, child_score: float) -> str | None:
        """Remember the edit an LLM operator wrote into ``child.metadata.origin`` (if any).

        An edit whose child or parent failed (the failure fitness, ``FAILED``) is not remembered:
        its delta is no measurement, and 1e300 would drown every real one."""
        edit = child.metadata.origin.get(EDIT_KEY)
        if not isinstance(edit, Mapping):
            return None
        if is_failure((child_score,)) or is_failure((parent_score,)):
            log.debug("edit of %s not remembered: its child or parent failed", child.hash[:12])
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
        await self._sync()
        if not self._edits:
            return []
        hits = await self.memory.search(text, k=max(k * 4, k))
        order = {id_: position for position, id_ in enumerate(self._edits)}
        known = sorted((hit for hit in hits if hit.id in order), key=lambda hit: (-hit.score, order[hit.id]))
        found = [self._edits[hit.id] for hit in known]
        return [edit for edit in found if not improving or edit.delta > 0][:k]

    async def _add(self, edits: Sequence[Edit]) -> None:
        for start in range(0, len(edits), BATCH):
            batch = edits[start : start + BATCH]
            await self.memory.add(
                [edit.before for edit in batch],
                [edit.model_dump(mode="json") for edit in batch],
                [edit.id for edit in batch],
            )
            self._indexed.update(edit.id for edit in batch)

    async def _sync(self) -> None:
        """Make the store hold exactly this memory's edits (once, and again after ``restore``)."""
        if self._synced:
            return
        async with self._lock:
            if self._synced:
                return
            present = set(await self._stored()) if self._stored is not None else set(self._indexed)
            extra = sorted(present - self._edits.keys())
            if extra:
                await self.memory.delete(extra)
            self._indexed = present & self._edits.keys()
            await self._add([edit for id_, edit in self._edits.items() if id_ not in present])
            self._synced = True


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
