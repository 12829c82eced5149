"""Memory behind small protocols: key-value, relational, vectors, and texts by meaning.

- ``KeyValue``: ``MemoryKV``, ``NatsKV`` (a NATS JetStream KV bucket);
- ``VectorStore``: ``MemoryVectorStore`` (numpy cosine), ``PgVectorStore`` (pgvector, HNSW),
  ``WeaviateVectorStore`` (weaviate-client v4);
- ``Embedder``: ``OpenAIEmbedder`` (any ``/v1/embeddings``), or any object with that ``embed``;
- ``Memory``: what a workflow's runtime provides (``Depends(providers.memory)``): a bucket and
  vector collections of one namespace.

``Database`` is a thin typed helper over PostgreSQL; ``SemanticMemory`` combines an embedder
and a vector store.
"""

from typing import TYPE_CHECKING

from evoforum.memory._embed import Embedder, OpenAIEmbedder
from evoforum.memory._kv import KeyValue, MemoryKV
from evoforum.memory._memory import Memory
from evoforum.memory._nats_kv import NatsKV
from evoforum.memory._pgvector import PgVectorStore
from evoforum.memory._relational import Database
from evoforum.memory._semantic import SemanticMemory
from evoforum.memory._vectors import Filter, Hit, MemoryVectorStore, VectorStore
from evoforum.memory._weaviate import WeaviateVectorStore

__all__ = [
    "Database",
    "Embedder",
    "Filter",
    "Hit",
    "KeyValue",
    "Memory",
    "MemoryKV",
    "MemoryVectorStore",
    "NatsKV",
    "OpenAIEmbedder",
    "PgVectorStore",
    "SemanticMemory",
    "VectorStore",
    "WeaviateVectorStore",
]

if TYPE_CHECKING:  # the backends follow their protocols (checked by mypy, never run)

    def _conforms(
        kv: tuple[MemoryKV, NatsKV],
        vectors: tuple[MemoryVectorStore, PgVectorStore, WeaviateVectorStore],
        embedder: OpenAIEmbedder,
    ) -> tuple[KeyValue, KeyValue, VectorStore, VectorStore, VectorStore, Embedder]:
        return (*kv, *vectors, embedder)
