"""The ``VectorStore`` protocol, its hits, the checks every backend shares, and the numpy backend.

Scores are cosine similarities (1 is the same direction, -1 the opposite), highest first. A
filter is a mapping of top-level payload keys to scalar values; a hit's payload must hold every
one of them (equal values, and a bool never equals a number).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict

from evoforum.errors import UsageError

Filter = Mapping[str, str | int | float | bool]


class Hit(BaseModel):
    """One result of a vector query."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    score: float
    payload: dict[str, Any]


class VectorStore(Protocol):
    """Vectors with JSON payloads, by id; nearest neighbours by cosine similarity."""

    async def upsert(
        self,
        ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
        payloads: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Insert or replace ``ids`` with their vectors and payloads (empty when not given)."""
        ...

    async def query(self, vector: Sequence[float], k: int = 10, filter: Filter | None = None) -> list[Hit]:
        """The ``k`` nearest vectors whose payload matches ``filter``, best first."""
        ...

    async def delete(self, ids: Sequence[str]) -> None:
        """Remove ``ids`` (unknown ids are ignored)."""
        ...


Rows = list[tuple[str, np.ndarray[Any, np.dtype[np.float32]], dict[str, Any]]]


def prepare(
    ids: Sequence[str],
    vectors: Sequence[Sequence[float]],
    payloads: Sequence[Mapping[str, Any]] | None,
    dim: int,
) -> Rows:
    """Checked rows ``(id, float32 vector, payload)``; a repeated id keeps its last row."""
    if isinstance(ids, str):
        raise UsageError("ids must be a sequence of strings, not one string")
    if payloads is None:
        payloads = [{}] * len(ids)
    if not len(ids) == len(vectors) == len(payloads):
        raise UsageError(f"upsert got {len(ids)} ids, {len(vectors)} vectors and {len(payloads)} payloads")
    rows: dict[str, tuple[str, np.ndarray[Any, np.dtype[np.float32]], dict[str, Any]]] = {}
    for id_, vector, payload in zip(ids, vectors, payloads, strict=True):
        if not isinstance(id_, str) or not id_:
            raise UsageError(f"vector ids must be non-empty strings, not {id_!r}")
        rows[id_] = (id_, check_vector(vector, dim), dict(payload))
    return list(rows.values())


def check_vector(vector: Sequence[float], dim: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """``vector`` as float32, checked: ``dim`` finite numbers, not all zero."""
    array = np.asarray(vector, dtype=np.float32)
    if array.shape != (dim,):
        raise UsageError(f"expected a vector of {dim} numbers, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise UsageError("a vector holds NaN or infinity")
    if not np.any(array):
        raise UsageError("the zero vector has no direction: cosine similarity is undefined")
    return array


def check_query(k: int, filter: Filter | None) -> None:
    if k < 1:
        raise UsageError(f"k must be at least 1, not {k}")
    for key, value in (filter or {}).items():
        if not isinstance(value, str | int | float | bool):
            raise UsageError(f"filter {key!r}: only str, int, float and bool values can be matched")


def matches(payload: Mapping[str, Any], filter: Filter | None) -> bool:
    """Whether ``payload`` holds every key of ``filter`` with an equal value."""
    for key, want in (filter or {}).items():
        if key not in payload:
            return False
        have = payload[key]
        if isinstance(have, bool) != isinstance(want, bool) or have != want:
            return False
    return True


class MemoryVectorStore:
    """A ``VectorStore`` in numpy arrays (exact search)."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._rows: dict[str, tuple[np.ndarray[Any, np.dtype[np.float32]], dict[str, Any]]] = {}
        self._matrix: tuple[list[str], np.ndarray[Any, np.dtype[np.float32]]] | None = None

    async def upsert(
        self,
        ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
        payloads: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        for id_, vector, payload in prepare(ids, vectors, payloads, self.dim):
            self._rows[id_] = (vector / np.linalg.norm(vector), payload)
        self._matrix = None

    async def query(self, vector: Sequence[float], k: int = 10, filter: Filter | None = None) -> list[Hit]:
        check_query(k, filter)
        query = check_vector(vector, self.dim)
        query = query / np.linalg.norm(query)
        ids, matrix = self._index()
        if not ids:
            return []
        scores = matrix @ query
        hits: list[Hit] = []
        for index in np.argsort(-scores, kind="stable"):
            id_ = ids[index]
            payload = self._rows[id_][1]
            if matches(payload, filter):
                hits.append(Hit(id=id_, score=float(scores[index]), payload=payload))
                if len(hits) == k:
                    break
        return hits

    async def delete(self, ids: Sequence[str]) -> None:
        for id_ in ids:
            self._rows.pop(id_, None)
        self._matrix = None

    async def close(self) -> None:
        """Nothing to release; here for symmetry with the other backends."""

    def _index(self) -> tuple[list[str], np.ndarray[Any, np.dtype[np.float32]]]:
        if self._matrix is None:
            ids = list(self._rows)
            matrix = (
                np.stack([self._rows[id_][0] for id_ in ids])
                if ids
                else np.zeros((0, self.dim), dtype=np.float32)
            )
            self._matrix = (ids, matrix)
        return self._matrix
