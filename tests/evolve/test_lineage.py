"""Lineage sinks: in memory and JSONL, both idempotent by record index."""

from __future__ import annotations

from pathlib import Path

import pytest

from evoforum.evolve import InMemoryLineage, JsonlLineage, LineageRecord
from evoforum.evolve.lineage import read_lineage


def _record(index: int) -> LineageRecord:
    return LineageRecord(
        index=index, genome_hash=f"{index:064x}", parents=(f"{index - 1:064x}",), operator="mut",
        generation=index // 3, values=(float(index),), items=2, transcripts=(f"t{index}",),
    )  # fmt: skip


@pytest.mark.parametrize("kind", ["memory", "jsonl"])
def test_a_sink_keeps_each_index_once(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "lineage.jsonl"
    sink = InMemoryLineage() if kind == "memory" else JsonlLineage(path)
    sink.emit([_record(i) for i in range(4)])
    sink.emit([_record(i) for i in range(2, 6)])  # a resumed run re-emits 2 and 3
    sink.close()
    got = sink.records if isinstance(sink, InMemoryLineage) else read_lineage(path)
    assert got == [_record(i) for i in range(6)]


def test_a_torn_last_line_is_cut_and_written_again(tmp_path: Path) -> None:
    path = tmp_path / "lineage.jsonl"
    sink = JsonlLineage(path)
    sink.emit([_record(0), _record(1)])
    sink.close()
    with path.open("ab") as handle:
        handle.write(b'{"index": 2, "genome')  # the process died while writing
    again = JsonlLineage(path)
    again.emit([_record(1), _record(2)])
    again.close()
    assert read_lineage(path) == [_record(0), _record(1), _record(2)]
