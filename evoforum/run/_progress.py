"""Live progress on stderr, one line per generation, and the run's wall-clock and LLM budgets.

``Progress`` is a lineage sink (the engine hands it each batch of assessed candidates) and a
generation hook: at the end of each generation it prints the generation, the engine's current
winner's fitness, the mean fitness of the generation's newcomers, evaluations, tokens, cost and
time left, and when a wall-clock or LLM budget is spent it caps the engine's job budget so that
no new generation starts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from evoforum.evolve import GenerationStats, LineageRecord


class Progress:
    def __init__(
        self,
        *,
        sign: float,
        totals: Callable[[], tuple[int, int, float]],
        wall_s: float | None,
        elapsed_before: float = 0.0,
        out: TextIO | None = None,
        on_generation: Callable[[int], None] | None = None,
        limits: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.sign = sign
        self.totals = totals
        self.wall_s = wall_s
        self.started = time.monotonic() - elapsed_before
        self.out = out or sys.stderr
        self.engine: Any = None
        self.best: float | None = None
        self.best_hash: str | None = None
        self.evaluations = 0
        self._scores: list[float] = []
        self.stopped: str | None = None
        self.on_generation = on_generation
        self.limits = limits

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def emit(self, records: Sequence[LineageRecord]) -> None:
        """Count a batch of newly assessed candidates (the line is printed once the generation ends)."""
        self.evaluations += len(records)
        self._scores += [r.values[0] for r in records if r.values and abs(r.values[0]) < 1e299]

    def generation_done(self, stats: GenerationStats) -> None:
        """Print the generation's line (best: the engine's current winner), check the budgets."""
        if stats.best and abs(stats.best[0]) < 1e299:
            self.best, self.best_hash = stats.best[0], stats.best_hash
        scores, self._scores = self._scores, []
        mean = sum(scores) / len(scores) if scores else float("nan")
        calls, tokens, cost = self.totals()
        left = ""
        if self.wall_s is not None:
            left = f"  left {max(0.0, self.wall_s - self.elapsed()):.0f}s"
        best = f"{self.best:.4g}" if self.best is not None else "-"
        print(
            f"gen {stats.generation:>3}  best {best:>9}  mean {mean:>9.4g}  evals {self.evaluations:>5}"
            f"  llm {calls} calls {tokens} tok ${cost:.4f}  {self.elapsed():.0f}s{left}",
            file=self.out,
            flush=True,
        )
        if self.wall_s is not None and self.elapsed() >= self.wall_s:
            self.stop("wall_s")
        spent = self.limits()
        if spent is not None:
            self.stop(spent)
        if self.on_generation is not None:
            self.on_generation(stats.generation)

    def stop(self, reason: str) -> None:
        """No new generation starts (the engine's job budget is capped at what was run)."""
        self.stopped = self.stopped or reason
        if self.engine is not None:
            self.engine.max_jobs = self.engine.assessor.jobs_run

    def close(self) -> None:
        return None
