"""Lineage: one record per individual that received a fitness, sent to a ``LineageSink``.

Records carry a run-wide ``index``. Sinks ignore an index they already hold, so a run resumed
after a crash re-emits the records of its unfinished generation without duplicating any. MLflow
and other trackers plug in as further sinks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

import orjson
from pydantic import BaseModel, ConfigDict


class LineageRecord(BaseModel):
    """Where one evaluated individual came from and how it scored.

    ``values`` are the fitness values (one per objective), ``items`` how many items it was scored
    on (fewer than the split when racing stopped it), ``cached`` whether every result came from
    the cache, and ``transcripts`` the opaque transcript ids its evaluation produced.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    genome_hash: str
    parents: tuple[str, ...]
    operator: str
    generation: int
    island: int = 0
    values: tuple[float, ...]
    items: int
    cached: bool = False
    transcripts: tuple[str, ...] = ()


@runtime_checkable
class LineageSink(Protocol):
    """Receives lineage records in index order."""

    def emit(self, records: Sequence[LineageRecord]) -> None: ...

    def close(self) -> None: ...


class InMemoryLineage:
    """Keeps records in a list (tests, small runs)."""

    def __init__(self) -> None:
        self.records: list[LineageRecord] = []

    def emit(self, records: Sequence[LineageRecord]) -> None:
        last = self.records[-1].index if self.records else -1
        self.records.extend(record for record in records if record.index > last)

    def close(self) -> None:
        return None


class JsonlLineage:
    """Appends one JSON object per record to a file (``lineage.jsonl`` in the output folder)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last = _recover(path)
        self._handle: IO[bytes] | None = None

    def emit(self, records: Sequence[LineageRecord]) -> None:
        fresh = [record for record in records if record.index > self._last]
        if not fresh:
            return
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("ab")
        self._handle.write(b"".join(orjson.dumps(r.model_dump()) + b"\n" for r in fresh))
        self._handle.flush()
        self._last = fresh[-1].index

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def read_lineage(path: Path) -> list[LineageRecord]:
    """Every complete record of a JSONL lineage file (a torn last line, of a killed run, is left out)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    lines = data[: data.rfind(b"\n") + 1].split(b"\n")
    return [LineageRecord.model_validate(orjson.loads(line)) for line in lines if line.strip()]


def _recover(path: Path) -> int:
    """The last complete record's index; a torn final line (killed mid-write) is cut off."""
    if not path.exists():
        return -1
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        with path.open("r+b") as handle:
            handle.truncate(end)
    lines = [line for line in data[:end].split(b"\n") if line.strip()]
    return int(orjson.loads(lines[-1])["index"]) if lines else -1
