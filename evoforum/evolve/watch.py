"""Watching the work of a run as it goes: which stage, how many candidates and items are done.

The engine and the assessor tell a ``WorkWatcher`` what they are about to do and what got done;
they never print. ``WorkTally`` is the watcher that counts, for a progress display::

    tally = WorkTally(last_generation=5)
    engine = Engine(..., generations=5, watcher=tally)
    tally.view()        # from any thread: stage, candidates and items done of planned, ETAs

The calls, in the order a generation makes them: ``begin(stage, generation)`` (``init`` or
``breed``, then ``assess``; ``test`` for the final scoring, outside any generation);
``candidates(hashes)`` when the assessor is handed genomes to assess; ``planned(hashes, keys,
final=)`` before a batch of item jobs runs (``final``: once these jobs are done, those candidates
are assessed; a racing rung that is not the last is not final); ``done(results)`` as jobs finish
(the evaluator may tell each job as it finishes, the assessor tells the whole batch again when it
returns: telling a job twice counts it once); ``settled(hashes)`` when candidates are assessed
without more jobs (racing dropped them, or their last batch is in).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from evoforum.evolve.cache import Key
from evoforum.evolve.evaluate import ItemResult


class WorkWatcher(Protocol):
    """Told how a run's work goes (see the module doc for the order of the calls)."""

    def begin(self, stage: str, generation: int | None = None) -> None: ...

    def candidates(self, hashes: Sequence[str]) -> None: ...

    def planned(self, hashes: Sequence[str], keys: Sequence[Key], *, final: bool) -> None: ...

    def done(self, results: Sequence[tuple[Key, ItemResult]]) -> None: ...

    def settled(self, hashes: Sequence[str]) -> None: ...


class Unwatched:
    """The watcher that ignores everything (an engine's default)."""

    def begin(self, stage: str, generation: int | None = None) -> None:
        return None

    def candidates(self, hashes: Sequence[str]) -> None:
        return None

    def planned(self, hashes: Sequence[str], keys: Sequence[Key], *, final: bool) -> None:
        return None

    def done(self, results: Sequence[tuple[Key, ItemResult]]) -> None:
        return None

    def settled(self, hashes: Sequence[str]) -> None:
        return None


@dataclass(frozen=True)
class WorkView:
    """What a ``WorkTally`` knows at one moment. ``open_ended``: some candidate is still racing,
    so more items may be planned (the generation's ETA is then a lower bound). ``best``: the best
    mean first objective among the candidates assessed in this stage (a provisional best, before
    the engine has chosen a winner), with its genome hash. ETAs are seconds (None: no rate yet)."""

    stage: str
    generation: int | None
    milestones: int
    candidates_done: int
    candidates_planned: int
    items_done: int
    items_planned: int
    open_ended: bool
    items_per_s: float | None
    eta_stage_s: float | None
    eta_run_s: float | None
    best: tuple[float, str] | None


@dataclass
class _Block:
    """The work of one generation (or of the test stage)."""

    started: float
    candidates: dict[str, bool] = field(default_factory=dict)
    """Hash -> its last planned batch was final."""
    settled: set[str] = field(default_factory=set)
    outstanding: dict[str, int] = field(default_factory=dict)
    planned: set[Key] = field(default_factory=set)
    done: set[Key] = field(default_factory=set)
    first_planned: float | None = None


class WorkTally:
    """Counts a run's work per generation, and its rate, for ETAs. Thread-safe: the engine tells
    it from the event loop, a display reads ``view()`` from a thread of its own.

    The item rate of a generation is its items done over the time since its first item was
    planned; before its first item is done, the rate of the generations before. The run's ETA is
    this generation's plus, for each generation still to come, the mean duration of the finished
    generations after generation 0, or before there is one, this generation's projected duration
    (generation 0's times ``later_share``: a later generation's share of generation 0's work,
    offspring over population). ``sign`` is the first objective's weight sign (1: higher is
    better). ``clock`` gives seconds (``time.monotonic``)."""

    def __init__(
        self,
        *,
        last_generation: int,
        sign: float = 1.0,
        later_share: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.last_generation = last_generation
        self.sign = 1.0 if sign >= 0 else -1.0
        self.later_share = later_share
        self.clock = clock
        self.stage = "start"
        self.generation: int | None = None
        self.milestones = 0
        self.durations: dict[int, float] = {}
        """Seconds each finished generation of this session took."""
        self._block = _Block(clock())
        self._busy = (0, 0.0)  # items done and seconds spent on them, in earlier blocks
        self._values: dict[str, tuple[float, int, bool]] = {}  # hash -> (sum, count, failed)
        self._lock = threading.Lock()

    def begin(self, stage: str, generation: int | None = None) -> None:
        with self._lock:
            now = self.clock()
            if generation != self.generation or generation is None:
                self._close(now)
            self.stage, self.generation = stage, generation
            self.milestones += 1

    def candidates(self, hashes: Sequence[str]) -> None:
        with self._lock:
            for genome_hash in hashes:
                self._block.candidates.setdefault(genome_hash, False)

    def planned(self, hashes: Sequence[str], keys: Sequence[Key], *, final: bool) -> None:
        with self._lock:
            block = self._block
            if keys and block.first_planned is None:
                block.first_planned = self.clock()
                self.milestones += 1
            for key in keys:
                if key not in block.planned:
                    block.planned.add(key)
                    block.outstanding[key[0]] = block.outstanding.get(key[0], 0) + 1
            for genome_hash in hashes:
                if genome_hash in block.candidates and genome_hash not in block.settled:
                    block.candidates[genome_hash] = final
                    self._settle_if_done(genome_hash)

    def done(self, results: Sequence[tuple[Key, ItemResult]]) -> None:
        with self._lock:
            block = self._block
            for key, result in results:
                if key not in block.planned or key in block.done:
                    continue
                block.done.add(key)
                total, count, failed = self._values.get(key[0], (0.0, 0, False))
                if result.error is not None or not result.values:
                    failed = True
                else:
                    total, count = total + result.values[0], count + 1
                self._values[key[0]] = (total, count, failed)
                block.outstanding[key[0]] -= 1
                self._settle_if_done(key[0])

    def settled(self, hashes: Sequence[str]) -> None:
        with self._lock:
            self._block.settled.update(h for h in hashes if h in self._block.candidates)

    def view(self) -> WorkView:
        with self._lock:
            now, block = self.clock(), self._block
            rate = self._rate(now)
            left = len(block.planned) - len(block.done)
            eta = None if not block.planned else 0.0 if not left else left / rate if rate else None
            return WorkView(
                stage=self.stage,
                generation=self.generation,
                milestones=self.milestones,
                candidates_done=len(block.settled),
                candidates_planned=len(block.candidates),
                items_done=len(block.done),
                items_planned=len(block.planned),
                open_ended=any(not final and h not in block.settled for h, final in block.candidates.items()),
                items_per_s=rate,
                eta_stage_s=eta,
                eta_run_s=self._eta_run(now, eta),
                best=self._best(),
            )

    def _settle_if_done(self, genome_hash: str) -> None:
        block = self._block
        if block.candidates.get(genome_hash) and block.outstanding.get(genome_hash, 0) == 0:
            block.settled.add(genome_hash)

    def _close(self, now: float) -> None:
        """End the current block: its duration (a generation's) and its items feed later ETAs."""
        block = self._block
        if self.generation is not None:
            self.durations[self.generation] = now - block.started
        if block.first_planned is not None and block.done:
            items, seconds = self._busy
            self._busy = (items + len(block.done), seconds + now - block.first_planned)
        self._block = _Block(now)

    def _rate(self, now: float) -> float | None:
        block = self._block
        if block.done and block.first_planned is not None and now > block.first_planned:
            return len(block.done) / (now - block.first_planned)
        items, seconds = self._busy
        return items / seconds if items and seconds > 0 else None

    def _eta_run(self, now: float, eta: float | None) -> float | None:
        """Seconds until the last generation ends (None outside the generations, or with no rate)."""
        if self.generation is None or eta is None:
            return None
        to_come = self.last_generation - self.generation
        later = [seconds for generation, seconds in self.durations.items() if generation >= 1]
        if later:
            each = sum(later) / len(later)
        else:
            this = now - self._block.started + eta
            each = this * self.later_share if self.generation == 0 else this
        return eta + max(0, to_come) * each

    def _best(self) -> tuple[float, str] | None:
        found: tuple[float, str] | None = None
        for genome_hash in self._block.settled:
            total, count, failed = self._values.get(genome_hash, (0.0, 0, True))
            if failed or not count:
                continue
            mean = total / count
            if found is None or self.sign * mean > self.sign * found[0]:
                found = (mean, genome_hash)
        return found
