"""Memory behind small protocols: key-value, relational, vectors, and texts by meaning.

- ``KeyValue``: ``MemoryKV``, ``NatsKV`` (a NATS JetStream KV bucket);
- ``VectorStore``: ``MemoryVectorStore`` (numpy cosine), ``PgVectorStore`` (pgvector, HNSW),
  ``WeaviateVectorStore`` (weaviate-client v4);
- ``Embedder``: ``OpenAIEmbedder`` (any ``/v1/embeddings``), or any object with that ``embed``.

``Database`` is a thin typed helper over PostgreSQL; ``SemanticMemory`` combines an embedder
and a vector store.
"""

from evoforum.memory._embed import Embedder, OpenAIEmbedder
from evoforum.memory._kv import KeyValue, MemoryKV
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
    "MemoryKV",
    "MemoryVectorStore",
    "NatsKV",
    "OpenAIEmbedder",
    "PgVectorStore",
    "SemanticMemory",
    "VectorStore",
    "WeaviateVectorStore",
]
