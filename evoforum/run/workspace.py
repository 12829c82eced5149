"""The bus and memory every candidate of a run shares, through its runtime's providers.

A run with services opens them on NATS and PostgreSQL: one ``NatsBus`` connection, whose
published messages also land in the run's forum (``evoforum.bus.ForumHook``); the memory's
key-value bucket on that connection (a NATS KV bucket named by the run's namespace); its vector
collections in pgvector tables prefixed by that namespace (``runtime.vector_store: memory`` keeps
them in the process instead). Without services (unit tests, ``WorkflowScorer`` on its own) both
live in the process. The namespace is ``run_`` and a hash of the host and the run folder's
absolute path (``run_namespace``), so two runs never share a bucket or a table and a resumed run
finds its own; the Ray workers open the same ones from ``Workspace``'s plain data.
"""

from __future__ import annotations

import socket
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evoforum.errors import ConfigError
from evoforum.hashing import digest

VECTOR_STORES = ("pgvector", "memory")
"""The vector stores a run's memory can keep its collections in (``runtime.vector_store``)."""


def run_namespace(out: Path) -> str:
    """The namespace of the run in folder ``out`` on this host."""
    identity = {"host": socket.gethostname(), "out": str(Path(out).resolve())}
    return "run_" + digest(identity, domain="run-namespace")[:16]


@dataclass(frozen=True)
class Workspace:
    """Where a run's bus and memory live (picklable: a Ray worker opens the same ones)."""

    namespace: str
    nats_url: str | None = None
    """The NATS server (None: an in-process bus and bucket)."""
    postgres_url: str | None = None
    """The PostgreSQL of the vector collections (None: in the process)."""
    vector_store: str = "pgvector"

    def __post_init__(self) -> None:
        if self.vector_store not in VECTOR_STORES:
            raise ConfigError(
                f"runtime.vector_store {self.vector_store!r}: a run's memory keeps its vectors in"
                f" {' or '.join(VECTOR_STORES)}"
            )

    async def open(self, stack: AsyncExitStack, forum: Any) -> tuple[Any, Any]:
        """The bus (posting what is published to ``forum``) and the memory, closed with ``stack``."""
        from evoforum.bus import ForumHook, MemoryBus, NatsBus
        from evoforum.memory import Database, Memory, MemoryKV, NatsKV

        hook = ForumHook.into(forum)
        if self.nats_url is None:
            bus: Any = MemoryBus(forum=hook)
            kv: Any = MemoryKV()
        else:
            bus = await NatsBus.connect(self.nats_url, forum=hook)
        stack.push_async_callback(bus.close)
        if isinstance(bus, NatsBus):
            kv = await NatsKV.open(bus.client, self.namespace)  # on the bus's connection
        if self.vector_store == "memory" or self.postgres_url is None:
            memory = Memory.in_process(self.namespace, kv=kv)
        else:
            db = await Database.connect(self.postgres_url, max_size=2)
            memory = Memory.on_services(kv, db, self.namespace)
        stack.push_async_callback(memory.aclose)
        return bus, memory
