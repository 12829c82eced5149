"""``InMemoryStore``: the forum store for tests and single-process runs."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from evoforum.errors import IntegrityError
from evoforum.forum.message import Message
from evoforum.forum.stores._common import (
    MAX_BRANCH_DEPTH,
    check_prefix,
    one_match,
    outside_parents,
    parents_first,
    too_deep,
    unknown,
)
from evoforum.hashing import Hash


class InMemoryStore:
    """Messages, children and refs in dicts; the same contract as the PostgreSQL store.

    Messages are immutable (their content deep-frozen), so the store holds them as they are.
    """

    def __init__(self, *, max_depth: int = MAX_BRANCH_DEPTH) -> None:
        self.max_depth = max_depth
        self._messages: dict[str, Message] = {}
        self._children: dict[str, list[str]] = {}
        self._refs: dict[tuple[str, str], list[Hash]] = {}
        self._sorted: list[str] = []
        self._sorted_stale = False

    def __len__(self) -> int:
        return len(self._messages)

    async def put_many(self, messages: Sequence[Message]) -> None:
        stored = self._messages
        fresh = [m for m in messages if m.hash not in stored]
        if not fresh:
            return
        for parent in outside_parents(fresh):
            if parent not in stored:
                raise unknown(parent, "parent message")
        for message in parents_first(fresh):
            stored[message.hash] = message
            if message.parent is not None:
                self._children.setdefault(message.parent, []).append(message.hash)
        self._sorted_stale = True

    async def get(self, hash_: str) -> Message:
        return self._checked(hash_)

    async def branch(self, hash_: str) -> list[Message]:
        # No cycle check: every message read is checked against its hash, which covers its parent,
        # so a loop would need a loop of sha256 hashes.
        chain = [self._checked(hash_)]
        while (parent := chain[-1].parent) is not None:
            if len(chain) >= self.max_depth:
                raise too_deep(hash_, self.max_depth)
            chain.append(self._checked(parent))
        chain.reverse()
        return chain

    async def children(self, hash_: str) -> list[Message]:
        return [self._checked(h) for h in sorted(self._children.get(hash_, ()))]

    async def resolve(self, prefix: str) -> Hash:
        text = check_prefix(prefix)
        if self._sorted_stale:
            self._sorted = sorted(self._messages)
            self._sorted_stale = False
        keys = self._sorted
        start = bisect.bisect_left(keys, text)
        matches = []
        for key in keys[start : start + 6]:
            if not key.startswith(text):
                break
            matches.append(key)
        return one_match(prefix, matches)

    async def put_ref(self, namespace: str, key: str, hashes: Sequence[str]) -> None:
        self._refs[(namespace, key)] = [Hash(h) for h in hashes]

    async def get_ref(self, namespace: str, key: str) -> list[Hash] | None:
        found = self._refs.get((namespace, key))
        return None if found is None else list(found)

    async def close(self) -> None:
        """Nothing to release."""

    def _checked(self, hash_: str) -> Message:
        message = self._messages.get(hash_)
        if message is None:
            raise unknown(hash_)
        if message.hash != hash_:
            raise IntegrityError(
                f"stored message {hash_[:12]}… no longer matches its hash; refusing to serve it", hash=hash_
            )
        return message
