"""The Ray Tune evaluator returns what the local one does: on the session's in-process Ray, and
on a separate Ray cluster given by its address (driven from a subprocess: a driver joins one Ray
at a time). The driver-to-trial channel is checked on its own, without Ray."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evoforum.errors import RunError
from evoforum.evolve import Engine, Generational, Job, LocalEvaluator
from evoforum.evolve.ray._channel import Hub, serve
from evoforum.evolve.toy import VectorSpace, sphere


def _jobs(count: int) -> list[Job]:
    rng = random.Random(0)
    return [Job(VectorSpace().init(rng), item) for _ in range(count) for item in ("0", "1")]


def fails_on_item_one(genome: Any, item: str, seed: int) -> float:
    if item == "1":
        raise ValueError("item one is broken")
    return sphere(genome, item, seed)


@pytest.mark.usefixtures("ray_session")
@pytest.mark.timeout(240)
async def test_ray_tune_evaluator_matches_the_local_one(tmp_path: Path) -> None:
    from evoforum.evolve import RayTuneEvaluator

    jobs = _jobs(9)
    expected = await LocalEvaluator(sphere).evaluate(jobs)

    per_call = RayTuneEvaluator(sphere, workers=2, persistent=False, storage_path=tmp_path / "trials")
    try:
        assert await per_call.evaluate(jobs) == expected
    finally:
        await per_call.aclose()

    workers = RayTuneEvaluator(sphere, workers=2, batches_per_worker=3, storage_path=tmp_path / "w")
    try:
        assert await workers.evaluate(jobs) == expected
        assert await workers.evaluate(jobs[:3]) == expected[:3]

        def engine(evaluator: Any) -> Engine:
            return Engine(
                operators=VectorSpace().operators(), algorithm=Generational(10, elitism=1),
                evaluator=evaluator, items=["0", "1"], weights=(-1.0,), generations=3, seed=4,
            )  # fmt: skip

        through_ray = await engine(workers).run()
    finally:
        await workers.aclose()
    local = await engine(LocalEvaluator(sphere)).run()
    assert [(i.hash, i.fitness.values) for i in through_ray.population] == [
        (i.hash, i.fitness.values) for i in local.population
    ]


@pytest.mark.usefixtures("ray_session")
@pytest.mark.timeout(240)
async def test_a_failing_batch_raises_and_the_trials_keep_serving(tmp_path: Path) -> None:
    from evoforum.evolve import RayTuneEvaluator

    jobs = _jobs(4)
    evaluator = RayTuneEvaluator(fails_on_item_one, workers=2, by_value=True, storage_path=tmp_path)
    try:
        with pytest.raises(RunError, match="item one is broken"):
            await evaluator.evaluate(jobs)
        only_zero = [job for job in jobs if job.item == "0"]
        assert await evaluator.evaluate(only_zero) == await LocalEvaluator(sphere).evaluate(only_zero)
    finally:
        await evaluator.aclose()


# -- the channel on its own ----------------------------------------------------------------------


async def test_the_hub_serves_trials_holding_its_key_and_drops_others() -> None:
    hub = Hub("127.0.0.1")
    stranger = socket.create_connection(hub.address)  # first in line, so answered first
    stranger.sendall(b"\0" * 32)  # answers the challenge without the key
    served: list[int] = []
    trial = threading.Thread(target=lambda: served.append(serve(hub.address, hub.key, sphere)))
    trial.start()
    jobs = _jobs(5)
    try:
        parts = [jobs[:4], jobs[4:7], jobs[7:]]
        found = await hub.run(parts, lambda: None)
        assert found == [await LocalEvaluator(sphere).evaluate(part) for part in parts]
        assert hub.links == 1
        stranger.settimeout(10)
        challenge = stranger.recv(64)
        assert len(challenge) == 32
        assert stranger.recv(64) == b""  # then the link is closed
    finally:
        stranger.close()
        hub.close()
        trial.join(10)
    assert served == [len(jobs)]


def _dies_on_its_first_batch(link: socket.socket, key: bytes) -> None:
    """A trial that takes a batch and crashes before answering."""
    from evoforum.evolve.ray._channel import _proof, _read_blocking

    with link:
        link.sendall(_proof(key, _read_blocking(link, 32) or b""))
        header = _read_blocking(link, 8) or bytes(8)
        _read_blocking(link, int.from_bytes(header, "big"))


async def test_a_batch_whose_trial_dies_goes_to_another_trial() -> None:
    hub = Hub("127.0.0.1")
    first = socket.create_connection(hub.address)  # first in line, so it gets the first batch
    dying = threading.Thread(target=_dies_on_its_first_batch, args=(first, hub.key))
    dying.start()
    healthy = threading.Thread(target=serve, args=(hub.address, hub.key, sphere))
    healthy.start()
    jobs = _jobs(3)
    local = LocalEvaluator(sphere)
    try:
        found = await hub.run([jobs[:2], jobs[2:]], lambda: None)
        assert found == [await local.evaluate(jobs[:2]), await local.evaluate(jobs[2:])]
        assert hub.links == 1
    finally:
        hub.close()
        healthy.join(10)
        dying.join(10)


async def test_the_hub_reports_trials_that_never_connect() -> None:
    hub = Hub("127.0.0.1")
    try:
        with pytest.raises(RunError, match=r"trials stopped: .*no trial"):
            await hub.run([_jobs(1)], lambda: RunError("no trial"))
    finally:
        hub.close()


async def test_a_batch_error_comes_back_to_the_driver() -> None:
    hub = Hub("127.0.0.1")
    trial = threading.Thread(target=serve, args=(hub.address, hub.key, fails_on_item_one))
    trial.start()
    jobs = _jobs(2)
    only_zero = [job for job in jobs if job.item == "0"]
    try:
        with pytest.raises(RunError, match="item one is broken"):
            await hub.run([jobs], lambda: None)
        assert hub.links == 1  # the link survives a failed batch
        assert await hub.run([only_zero], lambda: None) == [await LocalEvaluator(sphere).evaluate(only_zero)]
    finally:
        hub.close()
        trial.join(10)


# -- a separate Ray cluster, joined by its address -------------------------------------------------

CLIENT = """
import asyncio, json, random, sys
import ray
from evoforum.evolve import Job, LocalEvaluator, RayTuneEvaluator
from evoforum.evolve.toy import VectorSpace, sphere

async def main(address, storage):
    rng = random.Random(1)
    jobs = [Job(VectorSpace().init(rng), item) for _ in range(6) for item in ("0", "1")]
    evaluator = RayTuneEvaluator(sphere, workers=2, address=address, storage_path=storage)
    try:
        remote = await evaluator.evaluate(jobs)
        again = await evaluator.evaluate(jobs[:5])
    finally:
        await evaluator.aclose()
    joined = ray.is_initialized()
    ray.init(address=address, log_to_driver=False)  # the cluster is still up
    cpus = ray.cluster_resources().get("CPU")
    ray.shutdown()
    local = await LocalEvaluator(sphere).evaluate(jobs)
    print(json.dumps({
        "same": remote == local, "again_same": again == local[:5],
        "joined_after_close": joined, "cpus": cpus,
    }))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def ray_cluster() -> Iterator[str]:
    """A Ray head started by ``ray start --block`` in its own process group; its address."""
    ray_script = Path(sys.executable).parent / "ray"
    if not ray_script.exists():
        pytest.skip("the ray command is not installed next to this Python")
    temp = tempfile.mkdtemp(prefix="efc-")
    port = _free_port()
    head = subprocess.Popen(
        [str(ray_script), "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
         f"--temp-dir={temp}", "--include-dashboard=false", "--disable-usage-stats"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
    )  # fmt: skip
    try:
        ready = Path(temp) / "ray_current_cluster"  # written once the head node is up
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert head.poll() is None, "ray start exited before the head node came up"
            assert time.monotonic() < deadline, "the Ray head node did not come up in 120 s"
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
        assert head.poll() is None, "the Ray head stopped while the test used it"
    finally:
        head.send_signal(signal.SIGTERM)  # ray start --block stops the processes it started
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(10)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.timeout(300)
def test_the_evaluator_joins_a_ray_cluster_by_address_and_leaves_it_running(
    ray_cluster: str, tmp_path: Path
) -> None:
    env = {**os.environ, "RAY_AIR_NEW_OUTPUT": "0", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, ray_cluster, str(tmp_path / "tune")],
        capture_output=True, text=True, timeout=240, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"same": True, "again_same": True, "joined_after_close": False, "cpus": 2.0}
