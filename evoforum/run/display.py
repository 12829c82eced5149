"""Where a run's progress is shown: a live line on a terminal, plain lines in a log, JSON for scripts.

A ``Display`` is given progress snapshots (the JSON-ready dicts of ``evoforum.run.progress``) as
often as the run likes and shows them when they are due. Its modes:

- ``live``: one line redrawn in place every second (``\\r``), cut to the terminal's width; the
  line of each finished generation stays above it. ``auto`` picks it when stderr is a terminal.
- ``plain``: a line every 30 s, and at once when a stage begins or its first items are planned
  (``auto`` picks it in CI, under ``nohup``, or when stderr goes to a file).
- ``json``: one JSON object per line, every 10 s and at once at a milestone, for scripts
  (``--json-progress``); its ``event`` is ``progress``, ``generation`` (a generation ended), the
  name of a note (``services``, ``stopping``), and last ``done``, ``failed`` or ``interrupted``.
- ``quiet``: nothing (``--quiet``).

A plain line (``plain_line``, one line on screen)::

      2m15s  gen 1/2 assess  candidates 2/3  items 14/18  eta 40s (run 2m10s)  best 0.5
      412 tok/s  llm 4 in flight +2 queued  $0.0000

Writing is thread-safe: the run tells generations from its event loop, a ticking thread shows
the rest.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, TextIO

import orjson

Mode = Literal["auto", "live", "plain", "json", "quiet"]

EVERY_S: dict[str, float] = {"live": 1.0, "plain": 30.0, "json": 10.0, "quiet": math.inf}
"""How often each mode shows a snapshot when nothing else happens, in seconds."""


def resolve(mode: Mode, out: TextIO) -> Mode:
    """``auto`` made concrete: ``live`` on a terminal that can redraw a line, else ``plain``."""
    if mode != "auto":
        return mode
    isatty = getattr(out, "isatty", None)
    terminal = bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"
    return "live" if terminal else "plain"


class Display:
    """Shows progress snapshots on ``out`` (stderr) in ``mode`` (see the module doc).

    ``every_s`` overrides the mode's interval; ``clock`` gives seconds (``time.monotonic``),
    ``columns`` the terminal's width (live mode)."""

    def __init__(
        self,
        mode: Mode = "auto",
        out: TextIO | None = None,
        *,
        every_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        columns: Callable[[], int] = lambda: shutil.get_terminal_size().columns,
    ) -> None:
        self.out = out or sys.stderr
        self.mode = resolve(mode, self.out)
        self.every_s = EVERY_S[self.mode] if every_s is None else every_s
        self.clock = clock
        self.columns = columns
        self._shown_at = -math.inf
        self._milestone: int | None = None
        self._live = False  # a live line is on screen
        self._lock = threading.Lock()

    def note(self, event: str, text: str, **fields: Any) -> None:
        """A one-off message ("starting services"): ``evoforum: TEXT``, or a JSON object."""
        if self.mode == "json":
            self._write(_json({"event": event, "message": text, **fields}))
        elif self.mode != "quiet":
            self._write(f"evoforum: {text}\n")

    def line(self, text: str) -> None:
        """A line that stays (not shown in ``json`` or ``quiet`` mode)."""
        if self.mode in ("live", "plain"):
            self._write(text + "\n")

    def update(self, snapshot: Mapping[str, Any], milestone: int = 0) -> bool:
        """Show ``snapshot`` if it is due (its interval passed, or ``milestone`` changed since the
        last one shown); whether it was shown."""
        now = self.clock()
        with self._lock:
            fresh = milestone != self._milestone
            if self.mode == "quiet" or not (fresh or now - self._shown_at >= self.every_s):
                return False
            self._shown_at, self._milestone = now, milestone
        if self.mode == "json":
            self._write(_json({"event": "progress", **snapshot}))
        elif self.mode == "plain":
            self._write(plain_line(snapshot) + "\n")
        else:
            width = max(20, self.columns() - 1)
            with self._lock:
                self.out.write("\r" + plain_line(snapshot)[:width] + "\x1b[K")
                self.out.flush()
                self._live = True
        return True

    def generation(self, line: str, snapshot: Mapping[str, Any]) -> None:
        """A generation ended: its ``line``, or in ``json`` mode the snapshot as a ``generation`` event."""
        if self.mode == "json":
            self._write(_json({"event": "generation", **snapshot}))
        else:
            self.line(line)

    def close(self, snapshot: Mapping[str, Any] | None = None) -> None:
        """Clear the live line, if one is shown; in ``json`` mode, the last ``snapshot`` (its
        ``event`` is its stage: ``done``, ``failed`` or ``interrupted``)."""
        if self.mode == "json" and snapshot is not None:
            self._write(_json({"event": snapshot["stage"], **snapshot}))
        with self._lock:
            if self._live:
                self.out.write("\r\x1b[K")
                self.out.flush()
                self._live = False

    def _write(self, text: str) -> None:
        with self._lock:
            if self._live:  # a line that stays goes where the live line was
                self.out.write("\r\x1b[K")
                self._live = False
            self.out.write(text)
            self.out.flush()
            if self.mode != "live":  # the next periodic line is due an interval after this one
                self._shown_at = self.clock()


def _json(data: Mapping[str, Any]) -> str:
    return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY).decode() + "\n"


def plain_line(snapshot: Mapping[str, Any]) -> str:
    """One line of a snapshot: time so far, stage, candidates and items done of planned, ETAs of
    the stage and the run (marked ``+`` when racing may add items: at least that long), best
    (``~``: provisional, before the engine's first winner), tokens per second, model calls in
    flight (and queued for a slot), cost. Most wanted first: a narrow terminal cuts the end."""
    s = snapshot
    parts = [f"{span(s['wall_s']):>7}"]
    if s["generation"] is not None:
        parts.append(f"gen {s['generation']}/{s['generations']} {s['stage']}")
    else:
        parts.append(s["stage"])
    if s["candidates_planned"]:
        parts.append(f"candidates {s['candidates_done']}/{s['candidates_planned']}")
    if s["items_planned"]:
        more = "+" if s["items_open_ended"] else ""
        parts.append(f"items {s['items_done']}/{s['items_planned']}{more}")
        eta = f"eta {span(s['eta_stage_s'])}{more}"
        if s["generation"] is not None:
            eta += f" (run {span(s['eta_run_s'])}{more})"
        parts.append(eta)
    best = "-" if s["best"] is None else f"{'~' if s['best_provisional'] else ''}{s['best']:.4g}"
    parts.append(f"best {best}")
    rate = s["tokens_per_s"]
    parts.append(f"{'-' if rate is None else f'{rate:.0f}'} tok/s")
    calls = f"llm {s['llm_in_flight']} in flight"
    if s["llm_queued"]:
        calls += f" +{s['llm_queued']} queued"
    parts.append(calls)
    parts.append(f"${s['llm_cost_usd']:.4f}")
    return "  ".join(parts)


def span(seconds: float | None) -> str:
    """``45s``, ``12m05s``, ``1h02m``; ``?`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
