"""Helpers every store shares: batch ordering, integrity checks, prefix checks."""

from __future__ import annotations

from collections.abc import Sequence

from evoforum.errors import ForumError, IntegrityError, UnknownMessage
from evoforum.forum.message import Message
from evoforum.hashing import Hash, digest_bytes

MIN_PREFIX = 4
MAX_BRANCH_DEPTH = 100_000
"""The longest branch a store walks (its ``max_depth`` unless given): deeper is ``ForumError``."""
_HEX = frozenset("0123456789abcdef")


def parents_first(messages: Sequence[Message]) -> list[Message]:
    """``messages`` without duplicates, each parent before its children (stable otherwise)."""
    by_hash: dict[str, Message] = {}
    for message in messages:
        by_hash.setdefault(message.hash, message)
    if all(m.parent is None or m.parent not in by_hash for m in by_hash.values()):
        return list(by_hash.values())
    ordered: list[Message] = []
    placed: set[str] = set()
    for message in by_hash.values():
        chain: list[Message] = []
        current: Message | None = message
        while current is not None and current.hash not in placed:
            chain.append(current)
            placed.add(current.hash)
            current = by_hash.get(current.parent) if current.parent is not None else None
        ordered.extend(reversed(chain))
    return ordered


def outside_parents(messages: Sequence[Message]) -> set[str]:
    """The parents of ``messages`` that are not themselves in the batch."""
    inside = {m.hash for m in messages}
    return {m.parent for m in messages if m.parent is not None and m.parent not in inside}


def unknown(hash_: str, what: str = "message") -> UnknownMessage:
    return UnknownMessage(f"no {what} {hash_[:12]}… in the store", hash=hash_)


def too_deep(hash_: str, limit: int) -> ForumError:
    return ForumError(
        f"the branch of {hash_[:12]}… is deeper than {limit} messages (the store's max_depth); refusing to"
        " walk it",
        hash=hash_,
        max_depth=limit,
    )


def cyclic(hash_: str) -> IntegrityError:
    return IntegrityError(
        f"the branch of {hash_[:12]}… loops back on itself: a stored parent was changed", hash=hash_
    )


def verified(hash_: str, data: bytes) -> Message:
    """The message stored as ``data`` under ``hash_``; ``IntegrityError`` if they disagree."""
    if digest_bytes(data, domain="message") != hash_:
        raise IntegrityError(
            f"stored message {hash_[:12]}… no longer matches its hash; refusing to serve it", hash=hash_
        )
    return Message.from_canonical(data)


def check_prefix(prefix: str) -> str:
    """A lowercase hex prefix of at least ``MIN_PREFIX`` digits, else ``UnknownMessage``."""
    text = prefix.strip().lower()
    if len(text) < MIN_PREFIX or len(text) > 64 or not set(text) <= _HEX:
        raise UnknownMessage(
            f"{prefix!r} is not a hash prefix (4 to 64 hex digits)", prefix=prefix, matches=[]
        )
    return text


def one_match(prefix: str, matches: Sequence[str]) -> Hash:
    if not matches:
        raise UnknownMessage(f"no message hash starts with {prefix!r}", prefix=prefix, matches=[])
    if len(matches) > 1:
        shown = ", ".join(m[:16] for m in matches[:5])
        raise UnknownMessage(
            f"{prefix!r} is ambiguous: several messages match ({shown}…); give more digits",
            prefix=prefix,
            matches=list(matches),
        )
    return Hash(matches[0])
