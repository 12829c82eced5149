"""Content hashes: sha256 over canonical JSON, with a schema-version and domain prefix.

Canonical JSON here means: UTF-8, object keys sorted, no whitespace, only JSON types (str, int,
float, bool, None, list/tuple, dict with str keys), finite floats only. Two values that are equal as
JSON give the same bytes, on any machine and in any process.

A hash is ``sha256(b"evoforum:v<SCHEMA_VERSION>:<domain>\\0" + canonical_json(value))`` as 64 hex
digits. The domain ("message", "genome", "llm-request", …) keeps hashes of different kinds of thing
apart even when their JSON happens to coincide. Changing SCHEMA_VERSION changes every hash; the
golden-hash tests pin it.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any, NewType

import orjson

from evoforum.errors import NotSerializable

SCHEMA_VERSION = 1

Hash = NewType("Hash", str)
"""A 64-hex sha256 content hash."""

_HEX64 = re.compile(r"[0-9a-f]{64}")
_OPTIONS = orjson.OPT_SORT_KEYS


def canonical_json(value: Any) -> bytes:
    """The canonical JSON bytes of ``value``; ``NotSerializable`` names what cannot be encoded."""
    try:
        data = orjson.dumps(value, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError) as error:
        raise NotSerializable(f"cannot hash {type(value).__name__} as canonical JSON: {error}") from None
    # orjson writes NaN and infinities as null; only a value that wrote a null can hold one.
    if b"null" in data:
        _reject_non_finite(value, "$")
    return data


def _reject_non_finite(value: Any, path: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise NotSerializable(
            f"{path}: {value!r} is not a finite number; canonical JSON has no NaN or infinity"
        )
    if isinstance(value, dict):
        for key, item in value.items():
            _reject_non_finite(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _reject_non_finite(item, f"{path}[{index}]")


def prefix(domain: str) -> bytes:
    """The bytes every hash of ``domain`` starts from (for code that hashes in a hot loop)."""
    return f"evoforum:v{SCHEMA_VERSION}:{domain}\0".encode()


def digest(value: Any, *, domain: str) -> Hash:
    """The content hash of ``value`` in ``domain``."""
    return digest_bytes(canonical_json(value), domain=domain)


def digest_bytes(data: bytes, *, domain: str) -> Hash:
    """The content hash of bytes that are already canonical JSON (or raw content) in ``domain``."""
    return Hash(hashlib.sha256(prefix(domain) + data).hexdigest())


def is_hash(text: object) -> bool:
    """Whether ``text`` has the form of a content hash (64 lowercase hex digits)."""
    return isinstance(text, str) and _HEX64.fullmatch(text) is not None


def short(hash_: str, length: int = 12) -> str:
    """The first digits of a hash, for people to read."""
    return hash_[:length]
