"""The two small protocols a forum backend implements: messages, and a keyed index of hashes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from evoforum.forum.message import Message
from evoforum.hashing import Hash


@runtime_checkable
class MessageStore(Protocol):
    """Content-addressed message storage.

    ``put_many`` writes all messages or none (one transaction); a message already stored is
    stored once. Every parent must be stored already or come earlier in the same batch, else
    ``UnknownMessage``. Reads verify each row against its hash: a row that no longer matches is
    reported with ``IntegrityError``, never served.
    """

    async def put_many(self, messages: Sequence[Message]) -> None:
        """Store ``messages`` (any order; parents are written before their children)."""
        ...

    async def get(self, hash_: str) -> Message:
        """The message with this hash; ``UnknownMessage`` if there is none."""
        ...

    async def branch(self, hash_: str) -> list[Message]:
        """The messages from the root down to (and including) ``hash_``; ``ForumError`` when
        there are more than the store's ``max_depth``, ``IntegrityError`` when stored parents loop."""
        ...

    async def children(self, hash_: str) -> list[Message]:
        """The messages whose parent is ``hash_``, in hash order."""
        ...

    async def resolve(self, prefix: str) -> Hash:
        """The one stored hash starting with ``prefix``; ``UnknownMessage`` if none or several."""
        ...


@runtime_checkable
class RefIndex(Protocol):
    """A keyed index of message hashes (response cache, recorded LLM answers, …)."""

    async def put_ref(self, namespace: str, key: str, hashes: Sequence[str]) -> None:
        """Point ``(namespace, key)`` at ``hashes`` (replacing what it pointed at)."""
        ...

    async def get_ref(self, namespace: str, key: str) -> list[Hash] | None:
        """The hashes ``(namespace, key)`` points at, or None."""
        ...


@runtime_checkable
class ForumStore(MessageStore, RefIndex, Protocol):
    """What a ``Forum`` needs: messages and the ref index, in one backend."""

    async def close(self) -> None:
        """Release connections (a no-op in memory)."""
        ...
