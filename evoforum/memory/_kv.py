"""The ``KeyValue`` protocol and its in-memory backend.

Keys follow NATS KV's rules in every backend, so code that runs on one runs on the others:
letters, digits and ``-/_=.``, not starting or ending with a dot. Revisions grow with every
write to the bucket.
"""

from __future__ import annotations

import re
from typing import Protocol

from evoforum.errors import UsageError

_KEY = re.compile(r"[-/_=.a-zA-Z0-9]+")


def check_key(key: str) -> str:
    """``key`` if it is a valid key; ``UsageError`` naming the rule otherwise."""
    if not _KEY.fullmatch(key) or key.startswith(".") or key.endswith("."):
        raise UsageError(
            f"key {key!r} is invalid: use letters, digits and '-/_=.', not starting or ending with '.'"
        )
    return key


class KeyValue(Protocol):
    """A bucket of bytes by key."""

    async def get(self, key: str) -> bytes | None:
        """The value stored at ``key``, or None."""
        ...

    async def put(self, key: str, value: bytes) -> int:
        """Store ``value`` at ``key``; returns the write's revision (it grows with every write)."""
        ...

    async def delete(self, key: str) -> None:
        """Forget ``key`` (nothing happens when it is not there)."""
        ...

    async def keys(self, prefix: str = "") -> list[str]:
        """The keys present, sorted, optionally only those starting with ``prefix``."""
        ...


class MemoryKV:
    """A ``KeyValue`` in a dict."""

    def __init__(self) -> None:
        self._values: dict[str, bytes] = {}
        self._revision = 0

    async def get(self, key: str) -> bytes | None:
        return self._values.get(check_key(key))

    async def put(self, key: str, value: bytes) -> int:
        self._values[check_key(key)] = bytes(value)
        self._revision += 1
        return self._revision

    async def delete(self, key: str) -> None:
        if self._values.pop(check_key(key), None) is not None:
            self._revision += 1

    async def keys(self, prefix: str = "") -> list[str]:
        return sorted(key for key in self._values if key.startswith(prefix))

    async def close(self) -> None:
        """Nothing to release; here for symmetry with the other backends."""
