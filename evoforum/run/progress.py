"""A run's progress: live on stderr (``evoforum.run.display``), in ``progress.json``, and its
wall-clock and LLM budgets.

``Progress`` joins what the engine's ``WorkTally`` counts (stage, candidates and items done of
planned, ETAs), the model's use (calls, tokens and cost, answers served from the record
included; the server's tokens per second over the last 30 s; calls in flight and queued) and the best so far into one JSON-ready snapshot. A thread of its own (``start``)
ticks every half second: the display shows the snapshot when it is due, and ``progress.json`` is
rewritten (atomically) every 10 s and at each milestone, so anyone watching the run folder sees
where it is. At the end of each generation the generation's line is shown, the budgets are
checked, and ``progress.json`` is written durably.

``progress.json`` holds the snapshot (the keys of ``Progress.snapshot``) and ``updated_at`` (Unix
time); a resumed run reads its ``wall_s``, ``llm_calls``, ``llm_tokens`` and ``llm_cost_usd``
(``Earlier``) and adds this session's to them. ``wall_s`` is the run's time so far (from when the
services answered, in each session); ``wall_s_generations`` the time at the end of the last
generation seen in this session (the evolution's time, without the final test scoring).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from evoforum.evolve import LineageRecord
from evoforum.evolve.engine import GenerationStats
from evoforum.evolve.individual import is_failure
from evoforum.evolve.watch import WorkTally
from evoforum.llm import Ledger
from evoforum.run.display import Display
from evoforum.run.folder import RunFolder
from evoforum.run.plan import StopFlag

TICK_S = 0.5
SAVE_EVERY_S = 10.0
RATE_WINDOW_S = 30.0


class Earlier:
    """What earlier sessions of a resumed run spent (``progress.json``): time, model calls, tokens, dollars."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.wall_s = float(data.get("wall_s", 0.0))
        self.calls = int(data.get("llm_calls", 0))
        self.tokens = int(data.get("llm_tokens", 0))
        self.cost = float(data.get("llm_cost_usd", 0.0))


class ModelUse:
    """The run's model use so far: this session's ledger on top of what earlier sessions spent."""

    def __init__(self, ledger: Ledger, earlier: Earlier) -> None:
        self.ledger = ledger
        self.earlier = earlier

    def totals(self) -> tuple[int, int, float]:
        """Calls, tokens and dollars (answers served from the record included)."""
        total = self.ledger.total()
        earlier = self.earlier
        return earlier.calls + total.calls, earlier.tokens + total.tokens, earlier.cost + total.cost

    def asked_tokens(self) -> int:
        """The tokens of this session's answers that the model server gave (not the record)."""
        total = self.ledger.total()
        return total.tokens - total.recorded_tokens


class Progress:
    """Live progress, ``progress.json`` and the run's wall-clock and LLM budgets.

    A lineage sink (the engine hands it each batch of assessed candidates) and a generation hook:
    at the end of each generation it shows the generation, the engine's current winner's
    fitness, the mean fitness of the generation's newcomers, evaluations, tokens, cost and time
    left; when the wall clock or an LLM budget (``limits``) is spent it sets ``stop``, so that no
    new generation starts; then it tells ``on_generation`` (which appends the experiment's
    report). In between, ``tick`` (from the thread ``start`` starts) shows the snapshot and keeps
    ``progress.json`` current through ``save(snapshot, durable)``. ``load`` gives the model calls
    in flight and queued; ``clock`` gives seconds (``time.monotonic``).
    """

    def __init__(
        self,
        *,
        tally: WorkTally,
        totals: Callable[[], tuple[int, int, float]],
        wall_s: float | None,
        stop: StopFlag,
        limits: Callable[[], str | None] = lambda: None,
        elapsed_before: float = 0.0,
        evaluations: int = 0,
        best: tuple[float | None, str | None] = (None, None),
        on_generation: Sequence[Callable[[Progress, GenerationStats], None]] = (),
        display: Display | None = None,
        load: Callable[[], tuple[int, int]] = lambda: (0, 0),
        save: Callable[[dict[str, Any], bool], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        asked: Callable[[], int] | None = None,
    ) -> None:
        self.tally = tally
        self.totals = totals
        self.asked = asked
        """The tokens the model server gave so far, which ``tokens_per_s`` is the rate of (None: the
        tokens of ``totals``)."""
        self.wall_s = wall_s
        self.stop = stop
        self.limits = limits
        self.clock = clock
        self.started = clock() - elapsed_before
        self.evaluations = evaluations
        self.winner = best
        """The engine's current winner: its first fitness value and genome hash."""
        self.on_generation = tuple(on_generation)
        self.display = display or Display("quiet")
        self.load = load
        self.save = save
        self._scores: list[float] = []
        self._generations_s: float | None = None  # the time at the end of the last generation
        self._tokens: deque[tuple[float, int]] = deque(maxlen=int(RATE_WINDOW_S / TICK_S) + 8)
        self._saved: tuple[float, int] = (-float("inf"), -1)  # when, at which milestone
        self._lock = threading.Lock()
        self._ticking = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def of_run(
        cls,
        folder: RunFolder,
        state: dict[str, Any] | None,
        usage: ModelUse,
        stop: StopFlag,
        *,
        tally: WorkTally,
        display: Display,
        load: Callable[[], tuple[int, int]],
        wall_s: float | None,
        limits: Callable[[], str | None],
        report: Callable[[str], dict[str, Any]],
    ) -> Progress:
        """The progress of the run in ``folder``, continuing from its checkpoint ``state`` (if any),
        writing ``progress.json`` and, with the experiment's ``report`` of the best so far (by genome
        hash), ``reports.jsonl`` each generation. Its clock (and the ``wall_s`` budget's) runs from
        now, once the services answer, on top of earlier sessions' time."""
        evaluations, best = 0, (None, None)
        if state is not None:
            evaluations = int(state["evaluations"])
            last = state["history"][-1] if state["history"] else None
            if last is not None and not is_failure(last.best):
                best = (last.best[0], last.best_hash)
        return cls(
            tally=tally,
            totals=usage.totals,
            asked=usage.asked_tokens,
            wall_s=wall_s,
            stop=stop,
            limits=limits,
            elapsed_before=usage.earlier.wall_s,
            evaluations=evaluations,
            best=best,
            on_generation=[partial(_append_report, folder, report)],
            display=display,
            load=load,
            save=partial(_save, folder),
        )

    @property
    def best(self) -> float | None:
        return self.winner[0]

    @property
    def best_hash(self) -> str | None:
        return self.winner[1]

    def elapsed(self) -> float:
        return self.clock() - self.started

    def emit(self, records: Sequence[LineageRecord]) -> None:
        """Count a batch of newly assessed candidates (the line is shown once the generation ends)."""
        self.evaluations += len(records)
        self._scores += [r.values[0] for r in records if not is_failure(r.values)]

    def snapshot(self) -> dict[str, Any]:
        """Where the run is, as JSON data (what ``progress.json`` and ``--json-progress`` hold)."""
        work = self.tally.view()
        calls, tokens, cost = self.totals()
        in_flight, queued = self.load()
        best, best_hash = self.winner
        provisional = best is None and work.best is not None
        if provisional and work.best is not None:
            best, best_hash = work.best
        elapsed = self.elapsed()
        left = None if self.wall_s is None else max(0.0, self.wall_s - elapsed)
        eta_run = work.eta_run_s
        if eta_run is not None and left is not None:  # no generation starts once the clock is spent
            eta_run = min(eta_run, max(left, work.eta_stage_s or 0.0))
        return {
            "stage": work.stage,
            "generation": work.generation,
            "generations": self.tally.last_generation,
            "candidates_done": work.candidates_done,
            "candidates_planned": work.candidates_planned,
            "items_done": work.items_done,
            "items_planned": work.items_planned,
            "items_open_ended": work.open_ended,
            "items_per_s": work.items_per_s,
            "best": best,
            "best_hash": best_hash,
            "best_provisional": provisional,
            "evaluations": self.evaluations,
            "tokens_per_s": self._token_rate(tokens if self.asked is None else self.asked()),
            "llm_calls": calls,
            "llm_tokens": tokens,
            "llm_cost_usd": cost,
            "llm_in_flight": in_flight,
            "llm_queued": queued,
            "eta_stage_s": work.eta_stage_s,
            "eta_run_s": eta_run,
            "wall_s": elapsed,
            "wall_s_left": left,
            "wall_s_generations": self._generations_s,
        }

    def tick(self) -> None:
        """Show the snapshot if it is due; save it every ``SAVE_EVERY_S`` and at each milestone."""
        milestone = self.tally.view().milestones
        snapshot = self.snapshot()
        self.display.update(snapshot, milestone)
        saved_at, saved_milestone = self._saved
        if milestone != saved_milestone or self.clock() - saved_at >= SAVE_EVERY_S:
            self._save(snapshot, milestone, durable=False)

    def generation_done(self, stats: GenerationStats) -> None:
        """Show the generation's line (best: the engine's current winner), check the budgets,
        save ``progress.json``, tell ``on_generation``."""
        if not is_failure(stats.best):
            self.winner = (stats.best[0], stats.best_hash)
        self._generations_s = self.elapsed()
        scores, self._scores = self._scores, []
        mean = sum(scores) / len(scores) if scores else float("nan")
        calls, tokens, cost = self.totals()
        left = ""
        if self.wall_s is not None:
            left = f"  left {max(0.0, self.wall_s - self.elapsed()):.0f}s"
        best = f"{self.best:.4g}" if self.best is not None else "-"
        snapshot = self.snapshot()
        self.display.generation(
            f"gen {stats.generation:>3}  best {best:>9}  mean {mean:>9.4g}  evals {self.evaluations:>5}"
            f"  llm {calls} calls {tokens} tok ${cost:.4f}  {self.elapsed():.0f}s{left}",
            {**snapshot, "mean": mean if scores else None},
        )
        if self.wall_s is not None and self.elapsed() >= self.wall_s:
            self.stop.set("wall_s")
        spent = self.limits()
        if spent is not None:
            self.stop.set(spent)
        self._save(snapshot, self.tally.view().milestones, durable=True)
        for hook in self.on_generation:
            hook(self, stats)

    def start(self) -> None:
        """Tick every ``TICK_S`` seconds on a thread of its own (until ``close``)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._tick_on, name="evoforum-progress", daemon=True)
            self._thread.start()

    def close(self, stage: str = "done") -> None:
        """Stop ticking; save the final snapshot (its stage ``stage``) and clear the live line."""
        self._ticking.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.tally.begin(stage)
        snapshot = self.snapshot()
        try:
            self._save(snapshot, self.tally.view().milestones, durable=True)
        except OSError as error:  # never in place of the error that may be ending the run
            self.display.note("progress_error", f"progress not saved: {error}")
        self.display.close(snapshot)

    def _tick_on(self) -> None:
        while not self._ticking.wait(TICK_S):
            try:
                self.tick()
            except OSError as error:  # a full disk or a closed pipe must not end the run
                self.display.note("progress_error", f"progress not saved: {error}")

    def _save(self, snapshot: dict[str, Any], milestone: int, *, durable: bool) -> None:
        with self._lock:  # one writer at a time: the ticking thread and the event loop both save
            self._saved = (self.clock(), milestone)
            if self.save is not None:
                self.save(snapshot, durable)

    def _token_rate(self, tokens: int) -> float | None:
        """Model tokens per second over the last ``RATE_WINDOW_S`` seconds (None: too soon to say)."""
        now = self.clock()
        with self._lock:
            samples = self._tokens
            samples.append((now, tokens))
            while len(samples) > 2 and samples[1][0] <= now - RATE_WINDOW_S:
                samples.popleft()
            then, before = samples[0]
        return (tokens - before) / (now - then) if now - then >= 1.0 else None


def _save(folder: RunFolder, snapshot: dict[str, Any], durable: bool) -> None:
    """``progress.json``: the snapshot and the time it was taken."""
    folder.write_json(folder.PROGRESS, {**snapshot, "updated_at": time.time()}, durable=durable)


def _append_report(
    folder: RunFolder, report_of: Callable[[str], dict[str, Any]], progress: Progress, stats: GenerationStats
) -> None:
    """The experiment's report of the best so far, one row per generation in ``reports.jsonl``."""
    report = report_of(progress.best_hash or "")
    if report:
        row = {"generation": stats.generation, "evaluations": progress.evaluations, "jobs": stats.jobs}
        folder.append_json(folder.REPORTS, {**row, "best": progress.best_hash, **report})
