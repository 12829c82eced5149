"""A content-addressed result cache: (genome hash, item id, seed) -> ``ItemResult``.

No genome is evaluated twice on the same item with the same seed. In an output folder the cache
lives in an append-only journal (pickled batches of new results, flushed after each batch; a run's
local evaluator appends each item as it finishes, so a long batch stopped midway keeps its work). A
checkpoint records how many journal bytes it covers; on resume, results past that mark are work
the killed run finished after its last checkpoint, and are kept rather than run again. A torn
last batch (the process died while writing) is cut off. Appending keeps each generation's cost
proportional to its new results, where rewriting the whole cache would grow with the run.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterable, Iterator
from pathlib import Path

from evoforum.evolve.evaluate import ItemResult

Key = tuple[str, str, int]


class ResultCache:
    """Results by content address, journalled to ``journal`` (a file path) when there is one."""

    def __init__(self, journal: Path | None = None) -> None:
        self._results: dict[Key, ItemResult] = {}
        self.journal = journal

    def __len__(self) -> int:
        return len(self._results)

    def __contains__(self, key: object) -> bool:
        return key in self._results

    def get(self, key: Key) -> ItemResult | None:
        return self._results.get(key)

    def items(self) -> Iterator[tuple[Key, ItemResult]]:
        return iter(self._results.items())

    def put_many(self, entries: Iterable[tuple[Key, ItemResult]]) -> None:
        """Store results, and append the new ones to the journal when there is one."""
        fresh = [(key, result) for key, result in entries if key not in self._results]
        self._results.update(fresh)
        if self.journal is not None and fresh:
            with self.journal.open("ab") as handle:
                handle.write(pickle.dumps(fresh, protocol=pickle.HIGHEST_PROTOCOL))

    def mark(self, *, durable: bool = True) -> int:
        """The journal's length in bytes (what a checkpoint covers), fsynced first if ``durable``."""
        if self.journal is None or not self.journal.exists():
            return 0
        if durable:
            with self.journal.open("rb") as handle:
                os.fsync(handle.fileno())
        return self.journal.stat().st_size

    def restore(self, mark: int) -> set[Key]:
        """Reload the journal; returns the keys written past ``mark`` (finished after the checkpoint)."""
        self._results.clear()
        recovered: set[Key] = set()
        for end, batch in read_journal(self.journal):
            for key, result in batch:
                self._results.setdefault(key, result)
                if end > mark:
                    recovered.add(key)
        return recovered

    def reset(self) -> None:
        """Forget everything and remove the journal (a fresh run in the same folder)."""
        self._results.clear()
        if self.journal is not None and self.journal.exists():
            self.journal.unlink()


def read_journal(path: Path | None) -> list[tuple[int, list[tuple[Key, ItemResult]]]]:
    """Each complete batch of a journal with the byte offset where it ends; a torn tail is cut off."""
    if path is None or not path.exists():
        return []
    batches: list[tuple[int, list[tuple[Key, ItemResult]]]] = []
    end = 0
    with path.open("rb") as handle:
        while True:
            try:
                batch = pickle.load(handle)
            except (EOFError, pickle.UnpicklingError, ValueError, AttributeError, IndexError):
                break
            end = handle.tell()
            batches.append((end, batch))
    if end < path.stat().st_size:
        with path.open("r+b") as handle:
            handle.truncate(end)
    return batches
