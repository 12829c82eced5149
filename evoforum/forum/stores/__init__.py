"""Forum stores: the protocols, the in-memory store and the PostgreSQL store (asyncpg, lazily)."""

from evoforum.forum.stores._memory import InMemoryStore
from evoforum.forum.stores._postgres import PostgresStore
from evoforum.forum.stores._protocol import ForumStore, MessageStore, RefIndex

__all__ = ["ForumStore", "InMemoryStore", "MessageStore", "PostgresStore", "RefIndex"]
