"""Live progress on a fake clock: the snapshot (counts, best, tokens per second, ETAs), the plain
line, when each display mode shows it, JSON lines, and ``progress.json`` kept current."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from evoforum.evolve.engine import GenerationStats
from evoforum.evolve.evaluate import ItemResult
from evoforum.evolve.watch import WorkTally
from evoforum.llm.accounting import Charge, Entry, Ledger
from evoforum.run.display import Display, plain_line, span
from evoforum.run.folder import RunFolder
from evoforum.run.plan import StopFlag
from evoforum.run.progress import Earlier, ModelUse, Progress


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Run:
    """A progress of a run in the middle of generation 1 of 3, with a fake model and clock."""

    def __init__(self, mode: str = "plain", wall_s: float | None = None) -> None:
        self.clock = Clock()
        self.tokens = 0
        self.out = io.StringIO()
        self.saved: list[tuple[dict[str, Any], bool]] = []
        self.tally = WorkTally(last_generation=3, clock=self.clock)
        self.display = Display(mode, self.out, clock=self.clock, columns=lambda: 60)  # type: ignore[arg-type]
        self.stop = StopFlag()
        self.progress = Progress(
            tally=self.tally,
            totals=lambda: (7, self.tokens, 0.25),
            wall_s=wall_s,
            stop=self.stop,
            display=self.display,
            load=lambda: (4, 2),
            save=lambda snapshot, durable: self.saved.append((snapshot, durable)),
            clock=self.clock,
        )

    def work(self, done: int, planned: int = 10) -> None:
        """Generation 1 with one candidate of ``planned`` items, ``done`` of them done."""
        if self.tally.generation != 1:
            self.tally.begin("assess", 1)
            self.tally.candidates(["g"])
            self.tally.planned(["g"], [("g", str(i), 0) for i in range(planned)], final=True)
        self.tally.done([(("g", str(i), 0), ItemResult((0.5,))) for i in range(done)])

    def lines(self) -> list[str]:
        return self.out.getvalue().splitlines()


def test_the_snapshot_counts_the_work_the_model_and_the_time() -> None:
    run = Run(wall_s=600)
    run.progress.snapshot()  # the first token sample
    run.work(0)
    run.clock.now += 20
    run.tokens = 4000
    run.work(5)
    snapshot = run.progress.snapshot()
    assert snapshot["stage"] == "assess"
    assert (snapshot["generation"], snapshot["generations"]) == (1, 3)
    assert (snapshot["candidates_done"], snapshot["candidates_planned"]) == (0, 1)
    assert (snapshot["items_done"], snapshot["items_planned"]) == (5, 10)
    assert snapshot["tokens_per_s"] == pytest.approx(200.0)
    assert (snapshot["llm_in_flight"], snapshot["llm_queued"]) == (4, 2)
    assert (snapshot["llm_calls"], snapshot["llm_cost_usd"]) == (7, 0.25)
    assert snapshot["eta_stage_s"] == pytest.approx(20.0)
    assert snapshot["eta_run_s"] == pytest.approx(20.0 + 2 * 40.0)
    assert snapshot["wall_s"] == pytest.approx(20.0)
    assert snapshot["wall_s_left"] == pytest.approx(580.0)
    assert snapshot["best"] is None  # no candidate assessed yet, no winner yet
    orjson.dumps(snapshot)  # JSON data


def test_tokens_per_s_count_what_the_server_answered_not_answers_from_the_record() -> None:
    ledger = Ledger()
    usage = ModelUse(ledger, Earlier({}))
    run = Run()
    run.progress.totals, run.progress.asked = usage.totals, usage.asked_tokens
    run.progress.snapshot()

    def answered(tokens: int, recorded: bool) -> None:
        ledger.record(
            Entry(kind="chat", model="m", request_hash=None, charge=Charge(), prompt_tokens=tokens,
                  completion_tokens=0, cost=0.0, recorded=recorded)
        )  # fmt: skip

    answered(5000, recorded=True)  # a replayed generation: charged, not decoded
    answered(300, recorded=False)
    run.clock.now += 10
    snapshot = run.progress.snapshot()
    assert (snapshot["llm_calls"], snapshot["llm_tokens"]) == (2, 5300)
    assert snapshot["tokens_per_s"] == pytest.approx(30.0)


def test_the_run_eta_stops_at_the_wall_clock_budget_and_tokens_per_s_forget_old_calls() -> None:
    run = Run(wall_s=50)
    run.progress.snapshot()
    run.work(0)
    run.clock.now += 20
    run.tokens = 6000
    run.work(5)
    assert run.progress.snapshot()["eta_run_s"] == pytest.approx(30.0)  # not 100 s: the clock stops it
    for _ in range(40):  # a minute with no call answered
        run.clock.now += 1.5
        rate = run.progress.snapshot()["tokens_per_s"]
    assert rate == 0.0


def test_the_best_is_provisional_until_the_engine_has_a_winner() -> None:
    run = Run()
    run.work(10)
    snapshot = run.progress.snapshot()
    assert (snapshot["best"], snapshot["best_hash"], snapshot["best_provisional"]) == (0.5, "g", True)
    assert " best ~0.5 " in plain_line(snapshot)
    run.progress.generation_done(GenerationStats(1, (0.75,), 12, 30, "w"))
    snapshot = run.progress.snapshot()
    assert (snapshot["best"], snapshot["best_hash"], snapshot["best_provisional"]) == (0.75, "w", False)


def test_a_plain_line_says_where_the_run_is() -> None:
    run = Run()
    run.progress.snapshot()
    run.clock.now += 135
    run.work(0, planned=18)
    run.clock.now += 10
    run.tokens = 4120
    run.work(14, planned=18)
    line = plain_line(run.progress.snapshot())
    assert line == (
        "  2m25s  gen 1/3 assess  candidates 0/1  items 14/18  eta 3s (run 29s)  best -  28 tok/s"
        "  llm 4 in flight +2 queued  $0.2500"
    )


def test_racing_marks_the_items_and_etas_as_open_ended() -> None:
    run = Run()
    run.tally.begin("assess", 1)
    run.tally.candidates(["g"])
    run.tally.planned(["g"], [("g", "0", 0), ("g", "1", 0)], final=False)
    run.clock.now += 4
    run.tally.done([(("g", "0", 0), ItemResult((1.0,)))])
    line = plain_line(run.progress.snapshot())
    assert "items 1/2+  eta 4s+ (run " in line


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, "?"), (4.4, "4s"), (65, "1m05s"), (3 * 3600 + 125, "3h02m")]
)
def test_spans_read_as_time(seconds: float | None, text: str) -> None:
    assert span(seconds) == text


def test_plain_lines_come_every_30_s_and_at_once_when_items_start() -> None:
    run = Run("plain")
    run.tally.begin("setup")
    run.progress.tick()
    assert len(run.lines()) == 1
    assert "setup" in run.lines()[0]
    run.clock.now += 10
    run.progress.tick()
    assert len(run.lines()) == 1
    run.work(0)  # a stage begins, its items are planned: a milestone
    run.progress.tick()
    assert len(run.lines()) == 2
    assert "items 0/10" in run.lines()[-1]
    run.clock.now += 29
    run.progress.tick()
    assert len(run.lines()) == 2
    run.clock.now += 1
    run.progress.tick()
    assert len(run.lines()) == 3


def test_each_generation_has_its_line_and_the_wall_clock_stops_the_run() -> None:
    run = Run("plain", wall_s=60)
    run.work(10)
    run.clock.now += 61
    run.progress.generation_done(GenerationStats(1, (0.5,), 4, 10, "g"))
    assert run.lines()[-1].startswith("gen   1  best       0.5  mean       nan  evals     0  llm 7 calls")
    assert run.stop() == "wall_s"
    assert run.saved[-1][1] is True  # progress.json written durably at the end of a generation


def test_json_mode_writes_one_parseable_object_per_update() -> None:
    run = Run("json")
    run.display.note("services", "starting services: PostgreSQL", names=["postgres"])
    run.work(3)
    run.progress.tick()
    run.progress.generation_done(GenerationStats(1, (0.5,), 4, 10, "g"))
    run.progress.close()
    events = [orjson.loads(line) for line in run.lines()]
    assert [event["event"] for event in events] == ["services", "progress", "generation", "done"]
    assert events[0]["names"] == ["postgres"]
    assert (events[1]["items_done"], events[1]["items_planned"]) == (3, 10)
    assert events[2]["best"] == 0.5
    assert events[3]["stage"] == "done"


def test_quiet_shows_nothing_but_progress_json_is_still_kept() -> None:
    run = Run("quiet")
    run.display.note("services", "starting services")
    run.work(3)
    run.progress.tick()
    run.progress.generation_done(GenerationStats(1, (0.5,), 4, 10, "g"))
    run.progress.close()
    assert run.out.getvalue() == ""
    assert [durable for _, durable in run.saved] == [False, True, True]
    assert run.saved[-1][0]["stage"] == "done"


def test_a_live_line_is_redrawn_in_place_cut_to_the_terminal_and_cleared_at_the_end() -> None:
    run = Run("live")
    run.work(3)
    run.progress.tick()
    run.clock.now += 0.5
    run.progress.tick()  # within the second: not redrawn
    run.clock.now += 0.5
    run.progress.tick()
    run.progress.generation_done(GenerationStats(1, (0.5,), 4, 10, "g"))
    run.clock.now += 1
    run.progress.tick()
    run.progress.close()
    text = run.out.getvalue()
    drawn = text.split("\r")
    assert text.count("\x1b[K") == 5  # three draws, cleared for the generation's line and at the end
    assert all(len(part.removesuffix("\x1b[K")) <= 59 for part in drawn if part.startswith(" "))
    assert "\ngen   1  best" in "\n" + text.replace("\r\x1b[K", "\n")
    assert text.endswith("\r\x1b[K")


def test_progress_json_is_saved_every_10_s_and_at_milestones(tmp_path: Path) -> None:
    run = Run("quiet")
    folder = RunFolder(tmp_path)
    run.progress.save = lambda snapshot, durable: folder.write_json(
        folder.PROGRESS, snapshot, durable=durable
    )
    run.work(1)
    run.progress.tick()
    assert orjson.loads((tmp_path / "progress.json").read_bytes())["items_done"] == 1
    run.work(2)
    run.clock.now += 9
    run.progress.tick()
    assert orjson.loads((tmp_path / "progress.json").read_bytes())["items_done"] == 1
    run.clock.now += 1
    run.progress.tick()
    saved = orjson.loads((tmp_path / "progress.json").read_bytes())
    assert saved["items_done"] == 2
    assert Earlier(saved).calls == 7  # what a resumed run reads back
    assert not list(tmp_path.glob(".*.tmp"))
