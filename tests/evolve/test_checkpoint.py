"""Checkpoint and resume: a run killed with SIGKILL and resumed equals an uninterrupted one."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evoforum.errors import ConfigError
from evoforum.evolve import Engine, Generational, LocalEvaluator, load_checkpoint
from evoforum.evolve.cache import read_journal
from evoforum.evolve.toy import VectorSpace, sphere

_CHILD = """
import asyncio, json, sys, time
from pathlib import Path
from evoforum.evolve import Engine, Generational, Islands, JsonlLineage, LocalEvaluator
from evoforum.evolve.toy import VectorSpace, sphere

out, resume = Path(sys.argv[1]), sys.argv[2] == "resume"
log = (out / "executed.log").open("a")

def slow(genome, item, seed):
    time.sleep(0.003)
    log.write(f"{genome.hash} {item}\\n")
    log.flush()
    return sphere(genome, item, seed)

sink = JsonlLineage(out / "lineage.jsonl")
engine = Engine(operators=VectorSpace(length=3).operators(), algorithm=Generational(16, elitism=2),
                evaluator=LocalEvaluator(slow), items=["0", "1", "2"], weights=(-1.0,),
                generations=10, seed=5, out_dir=out, lineage=[sink], islands=Islands(2, 3, 1))
result = asyncio.run(engine.run(resume=resume))
sink.close()
print(json.dumps({
    "islands": [[(i.hash, i.fitness.values, i.parents, i.operator) for i in isl] for isl in result.islands],
    "archive": [i.hash for i in result.archive],
    "history": [(s.generation, s.best, s.evaluations, s.jobs) for s in result.history],
    "evaluations": result.evaluations, "jobs": result.jobs,
}))
"""


def _run(out: Path, mode: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", _CHILD, str(out), mode], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def _executed(out: Path) -> list[str]:
    return (out / "executed.log").read_text().splitlines()


@pytest.mark.timeout(120)
def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    whole.mkdir()
    killed.mkdir()
    command = [sys.executable, "-c", _CHILD]
    uninterrupted = subprocess.Popen([*command, str(whole), "start"], stdout=subprocess.PIPE, text=True)
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(killed), "start"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = _peek(killed)
            if state is not None and state >= 3:
                break
            time.sleep(0.01)
        time.sleep(0.05)  # land in the middle of a generation
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    stdout, _ = uninterrupted.communicate(timeout=60)
    assert uninterrupted.returncode == 0
    expected = json.loads(stdout)
    checkpoint = load_checkpoint(killed)
    assert checkpoint is not None
    assert checkpoint["generation"] < 10, "the run finished before the kill"
    before = set(_executed(killed))
    journalled = {
        f"{key[0]} {key[1]}" for _, batch in read_journal(killed / "cache.journal") for key, _ in batch
    }

    resumed = _run(killed, "resume")
    assert resumed == expected
    assert (killed / "lineage.jsonl").read_text() == (whole / "lineage.jsonl").read_text()
    after = _executed(killed)[len(before) :]
    assert not set(after) & journalled, "a finished evaluation was run again"
    assert set(_executed(killed)) == set(_executed(whole)), "an evaluation was lost"


def _peek(out: Path) -> int | None:
    try:
        with (out / "checkpoint.pkl").open("rb") as handle:
            return int(pickle.load(handle)["generation"])
    except (FileNotFoundError, EOFError, pickle.UnpicklingError):
        return None


async def test_resuming_with_a_different_setup_is_refused(tmp_path: Path) -> None:
    def engine(seed: int) -> Engine:
        return Engine(
            operators=VectorSpace().operators(), algorithm=Generational(6), evaluator=LocalEvaluator(sphere),
            items=["0"], weights=(-1.0,), generations=2, seed=seed, out_dir=tmp_path,
        )  # fmt: skip

    await engine(1).run()
    with pytest.raises(ConfigError, match="already holds a run"):
        await engine(1).run()
    with pytest.raises(ConfigError, match="seed"):
        await engine(2).resume()
    finished = await engine(1).resume()
    assert finished.generation == 2


async def test_a_checkpoint_of_another_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "checkpoint.pkl").write_bytes(pickle.dumps({"version": 999}))
    with pytest.raises(ConfigError, match="version"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize(("every", "expected"), [(0.0, 2 * 6), (3600.0, 2 + 2)])
async def test_durable_runs_fsync_at_most_once_per_interval_and_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every: float, expected: int
) -> None:
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    seen: list[int] = []
    engine = Engine(
        operators=VectorSpace(length=3).operators(), algorithm=Generational(8, elitism=1),
        evaluator=LocalEvaluator(sphere), items=["0", "1"], weights=(-1.0,), generations=5, seed=1,
        out_dir=tmp_path, sync_every_s=every, on_generation=[lambda stats: seen.append(stats.generation)],
    )  # fmt: skip
    await engine.run()
    # journal + checkpoint: every generation (0..5), or the first generation's and the end's
    assert len(synced) == expected
    assert seen == list(range(6))
    assert load_checkpoint(tmp_path)["generation"] == 5
