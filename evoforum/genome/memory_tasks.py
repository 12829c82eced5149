"""Memory tasks of a genome: ``recall`` and ``remember`` on the runtime's ``Memory``.

An item is a mapping of field names to text, stored in a vector collection of the memory
(``memory.vectors(name, dim)``: a pgvector table in a run) by the embedding of one of its fields,
with the fields as its payload; its id is a hash of the fields, so storing it again replaces it.
``recall`` embeds its query the same way and shows the nearest items through the spec's template.
The embedder is anything with ``embed(texts)`` (the run's model client: its embeddings are
recorded and replayed like its answers). The exported module of a genome calls these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evoforum.errors import UsageError
from evoforum.genome.agents import RecallSpec, RememberSpec, fill
from evoforum.hashing import digest

__all__ = ["item_id", "recall", "remember", "store_items"]


def item_id(fields: Mapping[str, str]) -> str:
    """The id of a stored item: a hash of its fields."""
    return digest(dict(fields), domain="memory-item")


async def store_items(
    memory: Any, embedder: Any, collection: str, items: Sequence[Mapping[str, str]], key: str
) -> list[str]:
    """Store ``items`` in ``collection`` of ``memory``, each found by the embedding of its field
    ``key``; their ids."""
    if not items:
        return []
    missing = [index for index, item in enumerate(items) if key not in item]
    if missing:
        raise UsageError(f"item {missing[0]} has no field {key!r} to be found by")
    vectors = await embedder.embed([str(item[key]) for item in items])
    ids = [item_id(item) for item in items]
    store = await memory.vectors(collection, len(vectors[0]))
    await store.upsert(ids, vectors, [dict(item) for item in items])
    return ids


async def remember(memory: Any, embedder: Any, spec: RememberSpec, **values: Any) -> str:
    """Store the task's ``values`` (as text) as one item of ``spec.collection``; its id."""
    item = {name: value if isinstance(value, str) else str(value) for name, value in values.items()}
    [stored] = await store_items(memory, embedder, spec.collection, [item], spec.key)
    return stored


async def recall(memory: Any, embedder: Any, spec: RecallSpec, **values: Any) -> str:
    """The ``spec.k`` items of ``spec.collection`` nearest in meaning to the one value given (the
    query), nearest first, each through ``spec.template`` and followed by a blank line ("" when
    the collection holds none)."""
    if len(values) != 1:
        raise UsageError(f"recall {spec.name!r} takes one query, not {len(values)} values")
    [query] = values.values()
    [vector] = await embedder.embed([query if isinstance(query, str) else str(query)])
    store = await memory.vectors(spec.collection, len(vector))
    hits = await store.query(vector, spec.k)
    return "".join(fill(spec.template, hit.payload) + "\n\n" for hit in hits)
